#!/usr/bin/env bash
# accord update and verified scanning (issue 5), figures for docs/benchmarks.md:
#   1. one day of new malicious files (467,200 SHA-256, Kaspersky's 2024 daily count rounded up to
#      whole statements) in hash-set statements of 400 hashes from 10 participants: a fresh
#      `accord update` (checkpoint and quorum checked, every tile and entry verified, every
#      statement's signature checked and validated, the scan database built and written);
#   2. the same hashes as 467,200 statements of one hash each;
#   3. `accord scan` starting on a verified database of 10,000,000 hashes (provenance and quorum
#      checked, database mapped) and scanning one small file, best of 5.
# The logs are built with `accord log append` from statements signed by bench/node_gen, and their
# checkpoints cosigned by two witness keys (`accord note sign`); the policy needs both.
#   bench/run-update-benchmarks.sh [WORKDIR] [--no-10m]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/accord-update-bench}
accord=$PWD/build/accord gen=$PWD/build/bench/node_gen
[ -x "$accord" ] && [ -x "$gen" ] || { echo "build accord and node_gen first"; exit 2; }
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$accord" key generate log keys --key-name bench.example/log > /dev/null
"$accord" key generate w1 keys --cosigner > /dev/null
"$accord" key generate w2 keys --cosigner > /dev/null
cat > policy <<POL
log $(cat keys/log.vkey)
witness w1 $(cat keys/w1.vkey)
witness w2 $(cat keys/w2.vkey)
group both all w1 w2
quorum both
POL

# make_log NAME N KIND: a cosigned log of N statements of KIND from 10 participants
make_log() {
  "$gen" "gen-$1" "$2" "$3" 10
  "$accord" log init "log-$1" --origin bench.example/log --key keys/log.key > /dev/null
  cat "gen-$1/registrations.ndjson" "gen-$1/statements.ndjson" | "$accord" log append "log-$1" > /dev/null
  for w in w1 w2; do "$accord" note sign --key keys/$w.key "log-$1/checkpoint" > cp && mv cp "log-$1/checkpoint"; done
  echo "log-$1: $(sed -n 2p "log-$1/checkpoint") entries, $(du -sh "log-$1" | cut -f1)"
}
# timed NAME CMD...: wall time and peak memory
timed() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o time.txt "$@" > "$name.out"
  read -r secs kb < time.txt
  printf '%-58s %8.2f s %8d MB\n' "$name" "$secs" $((kb / 1024))
  cat "$name.out" | sed 's/^/    /'
}

echo "== 1. 467,200 hashes in 1,168 hash-set statements of 400, 10 participants"
make_log sets 1168 hashset:400
sync
timed "accord update (hash sets, fresh)" "$accord" update --policy policy --from log-sets -d db-sets

echo "== 2. the same number of hashes, one statement each"
make_log single 467200 hash
sync
timed "accord update (one hash per statement, fresh)" "$accord" update --policy policy --from log-single -d db-single

if [ "${2:-}" != "--no-10m" ]; then
  echo "== 3. accord scan starting on a verified database of 10,000,000 hashes"
  make_log big 25000 hashset:400
  sync
  timed "accord update (10,000,000 hashes, fresh)" "$accord" update --policy policy --from log-big -d db-big
  echo hello > small.txt
  best=999
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M" -o time.txt "$accord" scan -d db-big --no-cache small.txt > /dev/null
    read -r secs kb < time.txt
    best=$(python3 -c "print(min($best, $secs))")
  done
  printf '%-58s %8.2f s %8d MB (best of 5)\n' "accord scan -d db-big small.txt (start + 1 file)" "$best" $((kb / 1024))
fi
