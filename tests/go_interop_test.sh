#!/usr/bin/env bash
# accord's logs, proofs and notes, checked by Go's independent implementation
# (golang.org/x/mod/sumdb/note and sumdb/tlog, Debian's golang-golang-x-mod-dev), and Go's
# notes checked by accord. Usage: go_interop_test.sh ACCORD_BIN SOURCE_DIR WORK_DIR
set -euo pipefail
accord=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/gocache" GOFLAGS=-mod=mod
go build -o gocheck "$src/tools/gocheck/main.go"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

"$accord" key generate log keys --key-name go.example/log >/dev/null
"$accord" log init log --origin go.example/log --key keys/log.key >/dev/null
size=0
# Sizes that cross tile boundaries at levels 0, 1 and 2 (65536 = one full level-1 tile).
for target in 0 1 2 255 256 257 1000 65535 65536 65537 70000; do
  if (( target > size )); then
    seq $size $((target - 1)) | sed 's/^/entry /' | "$accord" log append log >/dev/null
    size=$target
  fi
  cp log/checkpoint "cp.$size"
  if ./gocheck verify-log log keys/log.vkey; then ok "Go verifies the log at size $size"; else bad "Go rejects the log at size $size"; fi
done
# accord's proofs, checked by tlog.CheckRecord and tlog.CheckTree.
for i in 0 1 255 256 4097 65535 65536 69999; do
  "$accord" log prove log --index $i > "incl.$i"
  printf 'entry %d' $i > "entry.$i"
  if ./gocheck check-proof "incl.$i" keys/log.vkey "entry.$i"; then ok "Go checks accord's inclusion proof of $i"; else bad "inclusion proof $i"; fi
  if "$accord" log verify-proof "incl.$i" --vkey keys/log.vkey --entry "entry.$i" >/dev/null; then ok "accord checks it too"; else bad "accord rejects its own proof $i"; fi
done
for m in 1 2 255 256 257 1000 65535 65536 65537; do
  "$accord" log prove log --from $m > "cons.$m"
  if ./gocheck check-consistency "cons.$m" keys/log.vkey "cp.$m"; then ok "Go checks accord's consistency proof from $m"; else bad "consistency proof from $m"; fi
done
# A proof for the wrong entry must fail in Go too (the checker is not vacuous).
printf 'entry 5' > wrong
if ./gocheck check-proof incl.4097 keys/log.vkey wrong 2>/dev/null; then bad "Go accepted a proof for the wrong entry"; else ok "Go rejects a proof for the wrong entry"; fi

# Notes, both ways.
printf 'go.example/log\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n' > text
./gocheck sign keys/log.key < text > signed-by-go
if "$accord" note verify signed-by-go --vkey keys/log.vkey >/dev/null; then ok "Go signs with accord's key file; accord verifies"; else bad "accord rejects Go's signature with its own key"; fi
"$accord" note sign text --key keys/log.key > signed-by-accord
if cmp -s signed-by-go signed-by-accord; then ok "Go and accord sign byte-identically (Ed25519 is deterministic)"; else bad "signatures differ"; fi
./gocheck genkey go.example/witness . >/dev/null
printf 'hello from Go\n' | ./gocheck sign go.example_witness.key > go-note
if "$accord" note verify go-note --vkey go.example_witness.vkey >/dev/null; then ok "accord verifies a note Go signed with Go's key"; else bad "accord rejects Go's note"; fi
sed 's/hello/HELLO/' go-note > go-note-tampered
if "$accord" note verify go-note-tampered --vkey go.example_witness.vkey 2>/dev/null; then bad "accord accepted a tampered note"; else ok "accord rejects the tampered note"; fi

echo "$pass passed, $fail failed"
(( fail == 0 ))
