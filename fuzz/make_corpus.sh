#!/usr/bin/env bash
# Regenerates the seed inputs in fuzz/corpus/<target>/seed-* with the real accord tool, so that the
# seeds are what the log actually writes, not what a test author thinks it writes.
#
#   fuzz/make_corpus.sh path/to/accord
#
# Checkpoints and proofs are signed with the fixed fuzz keys below, the ones fuzz_common.cc derives
# from "accord fuzz log key" and "accord fuzz witness key" (they are public on purpose: they sign
# nothing but fuzz seeds). Everything is deterministic except the freshly generated key pairs and
# the cosignature timestamp. Inputs named crash-regression-* are left alone.
set -euo pipefail

ACCORD=$(realpath "${1:?usage: $0 path/to/accord}")
HERE=$(cd "$(dirname "$0")" && pwd)
CORPUS=$HERE/corpus
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

LOG_KEY='PRIVATE+KEY+fuzz.example/log+195f424e+ASdkqr2ntoqT8Xbb1ODq+m3jlFIGomLC7vlLw2GbYp4J'
LOG_VKEY='fuzz.example/log+195f424e+AfM9d5n30XM6jIonasDPNXQadBdW2kQodTHr/7PiTYF3'
WITNESS_KEY='PRIVATE+KEY+fuzz.example/witness+c4c13ec0+BPiSx0BTvlbsidHv8A/0PoIBhmq5GWqCUFxMT5uM8WFv'
WITNESS_VKEY='fuzz.example/witness+c4c13ec0+BALTcvfPnwxyZ01J725jJ20knDI9RI9/gJ/D3wTv8k+M'
echo "$LOG_KEY" > log.key
echo "$WITNESS_KEY" > witness.key

targets=(note_parse note_open note_keys checkpoint_parse checkpoint_open tile_path hash_tile entry_bundle
         tile_hash_source proof_text merkle_verify scan_cache)
for t in "${targets[@]}"; do
  mkdir -p "$CORPUS/$t"
  rm -f "$CORPUS/$t"/seed-*
done
seed() { cat > "$CORPUS/$1/seed-$2"; }  # seed TARGET NAME < bytes
body() { sed '/^$/,$d' "$1"; }          # a signed note's text: everything before the blank line

# ---- A log at sizes 0, 3 and 300 (300 has a full level-0 tile and a level-1 tile).
"$ACCORD" log init log --origin fuzz.example/log --key log.key > cp0
printf 'hello\nworld\nthird\n' | "$ACCORD" log append log > /dev/null
"$ACCORD" log checkpoint log > cp3
cp log/tile/0/000.p/3 tile0-3
cp log/tile/entries/000.p/3 bundle-3
"$ACCORD" log prove log --index 1 > incl-3
"$ACCORD" log prove log --from 1 > cons-1-3
"$ACCORD" log prove log --from 3 > cons-3-3
seq 4 300 | sed 's/^/entry /' | "$ACCORD" log append log > /dev/null
"$ACCORD" log checkpoint log > cp300
"$ACCORD" log prove log --index 299 > incl-300
"$ACCORD" log prove log --index 17 --size 200 > incl-200
"$ACCORD" log prove log --from 3 > cons-3-300
"$ACCORD" log prove log --from 100 --size 257 > cons-100-257

printf '%s\n' "$(body cp3)" > cp3.body
printf 'fuzz.example/log\n3\n%s\nextension one\nextension: two\n' "$(sed -n 3p cp3.body)" > ext.body
"$ACCORD" note sign ext.body --key log.key > cp3-ext
{ cat cp3; "$ACCORD" note sign cp3.body --key witness.key | tail -n 1; } > cp3-cosigned
sed '$s/[A-Za-z]=$/A=/' cp3 > cp3-badsig  # a known key's signature that does not verify

# ---- Signed notes.
cat > quasimodo <<'EOF'
Ognuno sta solo sul cuor della terra
trafitto da un raggio di sole:

ed è subito sera.

— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=
EOF
for t in note_parse note_open; do
  for f in cp0 cp3 cp300 cp3-ext cp3-cosigned cp3-badsig quasimodo; do seed $t $f < $f; done
done
"$ACCORD" key generate other keys --key-name fuzz.example/log > /dev/null  # same name, other key
"$ACCORD" note sign cp3.body --key keys/other.key | seed note_open other-key-same-name
printf 'text\n\n' | seed note_parse no-signatures
printf 'text\n— name AAAAAAA=\n' | seed note_parse no-blank-line
printf 'text\n\n— name AAAAAAA\n' | seed note_parse bad-base64
printf 'text\n\n— name AAAAAAA=' | seed note_parse no-final-newline
printf 'text\n\n— na me AAAAAAA=\n' | seed note_parse space-in-name

# ---- Keys.
"$ACCORD" key generate gen keys > /dev/null
"$ACCORD" key generate wit keys --key-name witness.example --cosigner > /dev/null
echo "$LOG_KEY" | seed note_keys fuzz-log.key
echo "$LOG_VKEY" | seed note_keys fuzz-log.vkey
echo "$WITNESS_KEY" | seed note_keys fuzz-witness.key
echo "$WITNESS_VKEY" | seed note_keys fuzz-witness.vkey
for f in gen.key gen.vkey wit.key wit.vkey; do seed note_keys generated-$f < keys/$f; done
echo "${LOG_VKEY/195f424e/195f424f}" | seed note_keys wrong-key-id
echo "${LOG_VKEY/+Af/+Av}" | seed note_keys unknown-type
echo "${LOG_VKEY/195f424e/195F424E}" | seed note_keys upper-case-id

# ---- Checkpoints.
for f in cp0 cp3 cp300 cp3-ext cp3-cosigned; do
  seed checkpoint_open $f < $f
  body $f | sed '$a\' | seed checkpoint_parse $f.body
done
seed checkpoint_open cp3-badsig < cp3-badsig
seed checkpoint_open other-key-same-name < "$CORPUS/note_open/seed-other-key-same-name"
seed checkpoint_parse cp300-signed < cp300
sed '2s/^/0/' cp3.body | seed checkpoint_parse leading-zero-size
sed '3s/=$/B/' cp3.body | seed checkpoint_parse bad-root
printf 'fuzz.example/log\n9223372036854775809\n%s\n' "$(sed -n 3p cp3.body)" | seed checkpoint_parse size-over-2-63

# ---- Tiles and entry bundles. hash_tile and entry_bundle take the width minus one first.
(cd log && find tile -type f | sort) > paths
i=0
while read -r p; do
  printf '%s' "$p" | seed tile_path log-$i
  i=$((i + 1))
done < paths
for p in tile/0/x001/x234/067.p/5 tile/entries/x123/456 tile/63/x018/x446/x744/x073/x709/x551/615 \
         tile/0/0000 tile/64/000 tile/0/000.p/256 tile/0/000.p/0 tile/0/x000/001 tile/0/000.p/05; do
  printf '%s' "$p" | seed tile_path "$(echo "$p" | tr '/' '_')"
done
{ printf '\x02'; cat tile0-3; } | seed hash_tile level0-width3
{ printf '\xff'; cat log/tile/0/000; } | seed hash_tile level0-full
{ printf '\x2b'; cat log/tile/0/001.p/44; } | seed hash_tile level0-width44
{ printf '\x00'; cat log/tile/1/000.p/1; } | seed hash_tile level1-width1
{ printf '\x02'; head -c 95 tile0-3; } | seed hash_tile short
{ printf '\x02'; cat bundle-3; } | seed entry_bundle width3
{ printf '\xff'; cat log/tile/entries/000; } | seed entry_bundle full
{ printf '\x2b'; cat log/tile/entries/001.p/44; } | seed entry_bundle width44
{ printf '\x03'; cat bundle-3; } | seed entry_bundle too-few
{ printf '\x02'; cat bundle-3; printf '\x00'; } | seed entry_bundle trailing-byte
printf '\x00\x00\xff\xff' | seed entry_bundle truncated-entry

# tile_hash_source: mode, then for an honest tree (odd mode; 2 = keep old partial tiles) its grown
# size, the size asked about and a salt (2+2+1 bytes), then operations: 0 root; 1 node (level+1,
# size tag, 2-byte index); 2 inclusion (size, index); 3 consistency (size, old size).
printf '\x03\x05\x14\x01\x2c\x07\x00\x02\x01\x2c\x00\x05\x03\x01\x2c\x00\x64\x01\x09\x00\x00\x00' |
  seed tile_hash_source honest-300-of-1300
printf '\x01\x05\x14\x01\x2c\x07\x00\x02\x01\x2c\x01\x2b\x03\x01\x2c\x01\x00\x01\x01\x00\x01\x20' |
  seed tile_hash_source honest-dropped-partials
printf '\x03\x00\x05\x00\x03\x01\x00\x02\x00\x03\x00\x02\x03\x00\x05\x00\x02' | seed tile_hash_source honest-3-of-5
printf '\x03\x00\x00\x00\x00\x00\x00' | seed tile_hash_source honest-empty
# Hostile: mode 0, a size (tag byte, then 2 or 8 bytes), then operations whose tile reads each take
# a control byte (0 NotFound, 1 Unavailable, 2 exact size, 3 two-byte length) and the tile's bytes.
{ printf '\x00\x00\x00\x03\x00\x02'; cat tile0-3; } | seed tile_hash_source hostile-real-tile
{ printf '\x00\x00\x01\x2c\x00\x00\x02'; cat log/tile/1/000.p/1; printf '\x03\x05\x80'; cat log/tile/0/001.p/44; } |
  seed tile_hash_source hostile-300
# Operation 4 calls ReadTileOrFull (level selector byte, level, size-tagged index, width - 1):
# partial tiles that are gone (control byte 0), cut from the full tile that follows.
u16() { printf "\\x$(printf %02x $(($1 >> 8)))\\x$(printf %02x $(($1 & 255)))"; }
{ printf '\x00\x00\x00\x00\x04\x00\x00\x00\x05\x02\x00\x03'; u16 "$(stat -c %s log/tile/entries/000)"
  cat log/tile/entries/000; } |
  seed tile_hash_source read-partial-bundle-from-full
# Operation 5 reads entry 1 of 3 with ReadEntry; the bundle comes with a two-byte length.
{ printf '\x00\x00\x00\x03\x05\x00\x00\x01\x01\x03'; u16 "$(stat -c %s bundle-3)"; cat bundle-3; } |
  seed tile_hash_source read-entry
{ printf '\x00\x00\x00\x00\x04\x01\x00\x00\x00\x00\x2b\x00\x02'; cat log/tile/0/000; } |
  seed tile_hash_source read-partial-tile-from-full
printf '\x00\x07\x7f\xff\xff\xff\xff\xff\xff\xff\x02\x00\x07\x7f\xff\xff\xff\xff\xff\xff\xfe\x01\x02\x02\x02\x02' |
  seed tile_hash_source hostile-2-63

# ---- Proofs.
for f in incl-3 cons-1-3 cons-3-3 incl-300 incl-200 cons-3-300 cons-100-257; do seed proof_text $f < $f; done
sed '1a extra aGVsbG8gd29ybGQ=' incl-3 | seed proof_text c2sp-extra
sed '1s/.*/accord\/tlog-inclusion-proof@v1/' incl-3 | seed proof_text accord-header-with-checkpoint
sed '2s/1/01/' incl-3 | seed proof_text leading-zero-index
head -n 3 incl-3 | seed proof_text no-checkpoint
sed '$d' incl-200 | seed proof_text no-root-line
printf 'accord/tlog-consistency-proof@v1\nold-size 1\n\n' | seed proof_text blank-then-nothing

# merkle_verify: mode 0 takes sizes a, b, c (tag byte + 2 or 8 bytes), a leaf, two roots (length
# selector byte, then bytes), a hash count and the hashes. Here: the real proof in incl-3.
b64() { base64 -d <<< "$1"; }
{
  printf '\x00\x00\x00\x01\x00\x00\x03\x00\x00\x00'
  head -c 64 tile0-3 | tail -c 32
  printf '\x01'; b64 "$(sed -n 3p cp3.body)"
  printf '\x01'; b64 "$(sed -n 3p cp3.body)"
  printf '\x02'; b64 "$(sed -n 3p incl-3)"; b64 "$(sed -n 4p incl-3)"
} | seed merkle_verify raw-inclusion-3
# Modes 1-4 (honest inclusion, consistency, subtree inclusion, subtree consistency): sizes and
# choices as 2-byte numbers, a salt, then a tamper kind (0 none) and its position.
printf '\x01\x00\x0e\x00\x05\x09\x00\x00\x00' | seed merkle_verify honest-inclusion
printf '\x01\x01\x2c\x01\x00\x09\x01\x01\x23' | seed merkle_verify honest-inclusion-tampered
printf '\x02\x00\x0e\x00\x07\x09\x00\x00\x00' | seed merkle_verify honest-consistency
printf '\x02\x01\x2c\x00\x07\x09\x04\x00\x10' | seed merkle_verify honest-consistency-tampered
printf '\x03\x00\x0e\x03\x00\x01\x00\x02\x00\x03\x09\x00\x00\x00' | seed merkle_verify honest-subtree-inclusion
printf '\x04\x00\x0e\x02\x00\x01\x00\x03\x09\x00\x00\x00' | seed merkle_verify honest-subtree-consistency
printf '\x04\x00\x0e\x03\x00\x01\x00\x04\x09\x00\x00\x00' | seed merkle_verify honest-subtree-8-13
printf '\x00\x07\xff\xff\xff\xff\xff\xff\xff\xff\x07\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00' |
  seed merkle_verify raw-max-sizes

# ---- The clean-file cache of `accord scan`: files written by real scans (docs/scan-cache.md). Only
# files that settled 2 s before a scan are recorded, hence the sleep.
mkdir -p scan/tree/sub
printf 'harmless\n' > scan/tree/a.txt
printf 'also harmless\n' > scan/tree/sub/b.txt
printf '%s\n' "$(seq 1 1000)" > scan/tree/sub/c.txt
printf 'this is the bad file\n' > scan/tree/evil.bin
printf '%s:*:Fuzz.Evil\n' "$(sha256sum scan/tree/evil.bin | cut -d' ' -f1)" > scan/sigs.hsb
sleep 3
"$ACCORD" scan --hashes scan/sigs.hsb --cache scan/one scan/tree/a.txt > /dev/null
"$ACCORD" scan --hashes scan/sigs.hsb --cache scan/three -r scan/tree > /dev/null || true  # evil.bin: rc 1
printf 'not a cache' > scan/none && chmod 600 scan/none
printf 'new\n' > scan/tree/racy.txt  # not recorded: the damaged file is rewritten with no records
"$ACCORD" scan --hashes scan/sigs.hsb --cache scan/none scan/tree/racy.txt > /dev/null 2>&1
for f in one three none; do seed scan_cache $f < scan/$f; done

# ---- TLSH signature files (scan/tlsh.h) and a database with a TLSH table, made with the real tool
# from generated text: both spellings of a digest, a CRLF line, a few bad lines, and text to hash.
t=tlsh_sigfile
mkdir -p "$CORPUS/$t" tlsh
rm -f "$CORPUS/$t"/seed-*
words() {  # words SEED COUNT VOCABULARY...: deterministic text
  awk -v seed="$1" -v count="$2" -v vocab="${*:3}" 'BEGIN { n = split(vocab, w, " "); x = seed
    for (i = 0; i < count; i++) { x = (x * 1103515245 + 12345) % 2147483648
      printf "%s%s", w[int(x / 65536) % n + 1], (i % 11 == 10 ? "\n" : " ") } }'
}
words 7 600 invoice payment macro enable content document open account urgent click below > tlsh/a.txt
words 9 600 the scanner reads every file and member of archive signed log entry digest > tlsh/b.txt
"$ACCORD" tlsh tlsh/a.txt tlsh/b.txt | cut -f1 > tlsh/digests
{
  printf '# fuzz seeds\n\n'
  printf '%s:40:Fuzz.Tlsh.A\n' "$(sed -n 1p tlsh/digests)"
  printf 'T1%s:0:Fuzz.Tlsh.B\r\n' "$(sed -n 2p tlsh/digests)"
  printf '%s:1000:Fuzz Tlsh Wide' "$(sed -n 1p tlsh/digests | tr A-F a-f)"
} > tlsh/variants.tlsh
seed $t variants.tlsh < tlsh/variants.tlsh
"$ACCORD" db build -o tlsh/variants.accdb --tlsh tlsh/variants.tlsh > /dev/null
seed $t variants.accdb < tlsh/variants.accdb
seed $t text-a < tlsh/a.txt
printf '%s:1001:Too.Wide\n' "$(sed -n 1p tlsh/digests)" | seed $t bad-threshold.tlsh
printf '%s:40\n' "$(sed -n 2p tlsh/digests)" | seed $t two-fields.tlsh
printf '%s:40:Name:73\n' "$(sed -n 2p tlsh/digests | cut -c 3-)" | seed $t short-digest.tlsh

# ---- accord's own container readers (scan/reader.h): ClamAV's test files of their formats, for
# their own targets and for the walker's (clamav-testfiles; skipped when it is not installed), and a
# stored KWAJ file, which no Debian tool writes.
T=/usr/share/clamav-testfiles
if [ -d "$T" ]; then
  for pair in mspack:clam.exe.szdd mspack:clam.chm ole2:clam.ole.doc ole2:clam.ppt rtf:clam.exe.rtf \
              tnef:clam.tnef sis:clam.sis pdf:clam.pdf; do
    t=${pair%%:*} f=${pair#*:}
    mkdir -p "$CORPUS/$t"
    cp "$T/$f" "$CORPUS/$t/seed-$f"
    cp "$T/$f" "$CORPUS/container/seed-$f"
  done
  { printf 'KWAJ\x88\xf0\x27\xd1\x00\x00\x17\x00\x18\x00CLAM\x00EXE\x00'; head -c 200 "$T/clam.exe"; } |
    seed mspack stored.kwaj
fi

du -sh "$CORPUS"
