#!/usr/bin/env bash
# The `accord` command line as a user meets it: the README's tour, and bad input that must get a
# clear error, a non-zero exit, and leave the log exactly as it was.
# Usage: cli_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
source "$(dirname "$(readlink -f "$0")")/lib.sh"
# expect_error CODE PATTERN -- CMD...: CMD exits with CODE and says PATTERN on stderr.
expect_error() {
  local code=$1 pattern=$2
  shift 3
  "$@" >out 2>err
  local rc=$?
  if [[ $rc -eq $code ]] && grep -q -- "$pattern" err; then ok "$* -> exit $rc: $(head -c 150 err)"
  else bad "$*: exit $rc (want $code), stderr: $(cat err) (want: $pattern)"; fi
}
snapshot() { (cd log && find . -path ./.accord -prune -o -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }

"$accord" key generate log keys --key-name cli.example/log >/dev/null || bad "key generate"
[[ $(stat -c %a keys/log.key) == 600 ]] && ok "private key is mode 0600" || bad "private key mode $(stat -c %a keys/log.key)"
[[ $(wc -l < keys/log.vkey) == 1 ]] && grep -q '^cli.example/log+[0-9a-f]\{8\}+' keys/log.vkey && ok "vkey is one line <name>+<id>+<key>" || bad "vkey format"
expect_error 1 "refusing to overwrite" -- "$accord" key generate log keys
"$accord" log init log --origin cli.example/log --key keys/log.key >/dev/null || bad "init"
expect_error 1 "not empty" -- "$accord" log init log --origin cli.example/log --key keys/log.key
mkdir inside && cp keys/log.key inside/
expect_error 1 "must not be inside the log directory" -- "$accord" log init inside --origin x --key inside/log.key
[[ ! -e inside/checkpoint ]] && ok "no log was created around a key" || bad "log created with its key inside"

printf 'first\nsecond\nthird' | "$accord" log append log > idx
[[ "$(cat idx)" == $'0\n1\n2' ]] && ok "append prints one index per line" || bad "append printed: $(cat idx)"
printf 'x%.0s' $(seq 1 100) > small.bin
"$accord" log append log small.bin keys/log.vkey > idx2 && [[ "$(cat idx2)" == $'3\n4' ]] && ok "append FILE... one entry per file" || bad "append files: $(cat idx2)"
"$accord" log verify log --vkey keys/log.vkey | grep -q "5 entries" && ok "verify" || bad "verify"

before=$(snapshot)
head -c 65536 /dev/zero > big.bin
expect_error 1 "over the entry limit" -- "$accord" log append log small.bin big.bin
{ echo ok-line; head -c 70000 /dev/zero | tr '\0' a; echo; } > big-lines
expect_error 1 "line 2: 70000 bytes, over the entry limit" -- "$accord" log append log < big-lines
head -c 65535 /dev/zero > max.bin
[[ $(snapshot) == "$before" ]] && ok "refused appends changed nothing" || bad "a refused append changed the log"
"$accord" log append log max.bin | grep -qx 5 && ok "a 65,535-byte entry is accepted" || bad "max-size entry"

# A second writer while one holds the lock.
flock log/.accord/lock sleep 3 &
sleep 0.5
expect_error 1 "locked by another writer" -- "$accord" log append log small.bin
wait

# Proofs: a flipped bit fails; the right one passes.
"$accord" log prove log --index 1 > proof
printf second > entry1
"$accord" log verify-proof proof --vkey keys/log.vkey --entry entry1 | grep -q OK && ok "inclusion proof verifies" || bad "proof"
python3 - <<'PY'
import base64
lines = open("proof").read().split("\n")
h = bytearray(base64.b64decode(lines[2])); h[0] ^= 1
lines[2] = base64.b64encode(bytes(h)).decode()
open("proof-flipped", "w").write("\n".join(lines))
PY
expect_error 1 "does not match" -- "$accord" log verify-proof proof-flipped --vkey keys/log.vkey --entry entry1
printf wrong > wrong-entry
expect_error 1 "does not match" -- "$accord" log verify-proof proof --vkey keys/log.vkey --entry wrong-entry
head -c 100 proof > truncated-proof
expect_error 1 "proof" -- "$accord" log verify-proof truncated-proof --vkey keys/log.vkey --entry entry1
expect_error 1 "beyond the checkpoint" -- "$accord" log prove log --index 0 --size 999
expect_error 1 "not below size" -- "$accord" log prove log --index 6
"$accord" log prove log --index 1 --size 3 | head -1 | grep -qx "accord/tlog-inclusion-proof@v1" && ok "proof at a past size uses accord's form" || bad "past-size proof"

# Corruption: every check names the bad file.
cp -r log pristine
corrupt() {  # corrupt NAME PATTERN -- CMD: run CMD in a fresh copy, expect verify to name PATTERN
  local name=$1 pattern=$2
  shift 3
  rm -rf log && cp -r pristine log
  (cd log && eval "$@")
  expect_error 1 "$pattern" -- "$accord" log verify log --vkey keys/log.vkey
}
corrupt "truncated tile" "tile/0/000.p/6: size" -- 'truncate -s 100 tile/0/000.p/6'
corrupt "altered bundle" "tile/entries/000.p/6: entry 1 does not hash" -- 'sed -i s/second/sEcond/ tile/entries/000.p/6'
corrupt "truncated bundle" "tile/entries/000.p/6" -- 'truncate -s 20 tile/entries/000.p/6'
corrupt "altered checkpoint" "does not verify" -- 'sed -i "2s/6/7/" checkpoint'
corrupt "missing checkpoint" "checkpoint" -- 'rm checkpoint'
"$accord" key generate other keys --key-name cli.example/log >/dev/null
rm -rf log && cp -r pristine log
expect_error 1 "no signature by a known key" -- "$accord" log verify log --vkey keys/other.vkey
rm -rf log && cp -r pristine log

# Usage errors exit 2.
expect_error 2 "" -- "$accord" log prove log
expect_error 2 "" -- "$accord" frobnicate
echo "$pass passed, $fail failed"
(( fail == 0 ))
