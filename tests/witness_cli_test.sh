#!/usr/bin/env bash
# `accord witness serve` as a log operator uses it (docs/witness.md): a witness on a free port
# that follows one log; add-checkpoint requests built by hand with curl from `accord log` output;
# a cosignature that `accord note verify` accepts; each refusal of c2sp.org/tlog-witness (409 with
# the stored size, a split view, 404, 403, 422, 400); a restart that keeps the state; a second
# witness on the same directory refused.
# Usage: witness_cli_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
source "$(dirname "$(readlink -f "$0")")/lib.sh"
witness_pid=""
trap '[ -n "$witness_pid" ] && kill $witness_pid 2> /dev/null' EXIT

# start_witness [MORE SERVE ARGS...]; with --tls-cert, the URL is https and curl trusts $cacert.
start_witness() {
  rm -f port
  "$accord" witness serve wdir --key keys/w1.key --log keys/log.vkey --listen 127.0.0.1:0 --port-file port \
    "$@" > serve.out 2> serve.err &
  witness_pid=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  url=http://127.0.0.1:$(cat port 2> /dev/null)
  case " $* " in *" --tls-cert "*) url=https://127.0.0.1:$(cat port 2> /dev/null) ;; esac
}
stop_witness() { kill $witness_pid; wait $witness_pid 2> /dev/null; witness_pid=""; }
# post FILE: POSTs FILE to add-checkpoint; sets $code, leaves the answer in `body` and its headers in `headers`.
post() { code=$(curl -s ${cacert:+--cacert "$cacert"} -D headers -o body -w '%{http_code}' -H 'Content-Type: text/plain' --data-binary @"$1" "$url/add-checkpoint"); }
# request OLD PROOF_OR_EMPTY CHECKPOINT > FILE: an add-checkpoint body.
request() {
  printf 'old %s\n' "$1"
  if [ -n "$2" ]; then tail -n +3 "$2"; else printf '\n'; cat "$3"; fi
}

"$accord" key generate log keys --key-name test.example/log > /dev/null &&
  "$accord" key generate impostor keys --key-name test.example/log > /dev/null &&
  "$accord" key generate other keys --key-name other.example/log > /dev/null &&
  "$accord" key generate w1 keys --cosigner --key-name witness.example/w1 > /dev/null || exit 1
"$accord" log init log --origin test.example/log --key keys/log.key > /dev/null || exit 1

"$accord" witness key-info keys/w1.vkey > policy-line
check "key-info prints the policy's witness line" \
  "grep -qx 'witness witness.example/w1 witness.example/w1+[0-9a-f]\{8\}+[A-Za-z0-9+/=]*' policy-line"
check "key-info of the private key prints the same line" "[ \"\$(\"$accord\" witness key-info keys/w1.key)\" = \"\$(cat policy-line)\" ]"
check "key-info --name renames the witness" "\"$accord\" witness key-info keys/w1.vkey --name W1 | grep -q '^witness W1 witness.example/w1+'"
"$accord" witness key-info keys/log.vkey > out 2> err
check "key-info refuses a log key" "[ $? -eq 1 ] && grep -q 'not a witness key' err"
"$accord" witness serve wdir --key keys/w1.key > out 2> err
check "serve without --log is a usage error (exit 2)" "[ $? -eq 2 ]"

start_witness
check "serve prints the policy line of its key" "grep -qxF \"\$(cat policy-line)\" serve.out"
check "serve says where it listens" "grep -q '^listening on http://127.0.0.1:[0-9]*/add-checkpoint' serve.out"

printf 'one\ntwo\nthree\n' | "$accord" log append log > /dev/null
"$accord" log checkpoint log > cp3
request 0 "" cp3 > req
post req
check "the first checkpoint (old 0) is cosigned: 200" "[ $code = 200 ] && grep -q '^— witness.example/w1 ' body"
cat cp3 body > cp3.cosigned
"$accord" note verify cp3.cosigned --vkey keys/log.vkey --vkey keys/w1.vkey > out 2> err
check "the cosigned checkpoint verifies with the log and witness keys" \
  "grep -q 'verified: test.example/log' out && grep -q 'verified: witness.example/w1' out"
"$accord" note verify cp3.cosigned --vkey keys/w1.vkey > /dev/null 2>&1
check "the cosignature alone verifies with the witness key (cosignature/v1)" "[ $? -eq 0 ]"

printf 'four\nfive\nsix\n' | "$accord" log append log > /dev/null
"$accord" log checkpoint log > cp6
"$accord" log prove log --from 3 > proof-3-6
request 3 proof-3-6 > req
post req
check "a consistent checkpoint with its proof (old 3) is cosigned: 200" "[ $code = 200 ]"

post req
check "the same request again: 409, the stored size as text/x.tlog.size" \
  "[ $code = 409 ] && [ \"\$(cat body)\" = 6 ] && grep -qi '^content-type: text/x.tlog.size' headers"
request 0 "" cp3 > req
post req
check "a rollback to size 3: 409 with size 6" "[ $code = 409 ] && [ \"\$(cat body)\" = 6 ]"
request 6 "" cp6 > req
post req
check "the same checkpoint from its own size is cosigned again: 200" "[ $code = 200 ]"
request 9 "" cp6 > req
post req
check "an old size above the checkpoint's: 400" "[ $code = 400 ]"

# The log's operator forks the log: the same key and size, other entries.
"$accord" log init fork --origin test.example/log --key keys/log.key > /dev/null
printf 'x\ny\nz\nu\nv\nw\n' | "$accord" log append fork > /dev/null
"$accord" log checkpoint fork > fork6
request 6 "" fork6 > req
post req
check "a split view (size 6, another root): 409 and the evidence kept" \
  "[ $code = 409 ] && grep -q 'split view' body && [ \$(find wdir/evidence -type f | wc -l) = 2 ]"

"$accord" log init other --origin other.example/log --key keys/other.key > other-cp0
request 0 "" other-cp0 > req
post req
check "a log the witness does not follow: 404" "[ $code = 404 ]"

sed '/^$/,$d' cp6 > cp6.text
"$accord" note sign cp6.text --key keys/impostor.key > impostor6
request 6 "" impostor6 > req
post req
check "a checkpoint signed by another key under the log's name: 403" "[ $code = 403 ]"

printf 'seven\neight\nnine\n' | "$accord" log append log > /dev/null
"$accord" log prove log --from 6 > proof-6-9
# Flip the first proof hash (line 3 of the proof file).
awk 'NR == 3 { $0 = (substr($0, 1, 1) == "A" ? "B" : "A") substr($0, 2) } { print }' proof-6-9 > bad-proof
request 6 bad-proof > req
post req
check "a consistency proof that does not verify: 422" "[ $code = 422 ]"
printf 'old 6\n\n' > req
post req
check "a body without a checkpoint: 400" "[ $code = 400 ]"
code=$(curl -s -o body -w '%{http_code}' "$url/add-checkpoint")
check "GET is not served: 405" "[ $code = 405 ]"

stop_witness
start_witness
request 0 "" cp3 > req
post req
check "after a restart the witness still has size 6" "[ $code = 409 ] && [ \"\$(cat body)\" = 6 ]"
request 6 proof-6-9 > req
post req
check "and cosigns the next checkpoint: 200" "[ $code = 200 ]"
"$accord" witness serve wdir --key keys/w1.key --log keys/log.vkey --listen 127.0.0.1:0 > out 2> err
check "a second witness on the same directory is refused" "[ $? -eq 1 ] && grep -q 'locked' err"
stop_witness

# HTTPS with a self-signed certificate.
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout tls.key -out tls.crt > /dev/null 2>&1; then
  start_witness --tls-cert tls.crt --tls-key tls.key
  check "serve says it listens on HTTPS" "grep -q '^listening on https://127.0.0.1:[0-9]*/add-checkpoint' serve.out"
  cacert=tls.crt
  request 0 "" cp3 > req
  post req
  check "add-checkpoint over HTTPS: 409 with the stored size 9" "[ $code = 409 ] && [ \"\$(cat body)\" = 9 ]"
  cacert=""
  post req
  check "a client that does not trust the certificate gets no answer" "[ $code = 000 ]"
  stop_witness
  "$accord" witness serve wdir --key keys/w1.key --log keys/log.vkey --listen 127.0.0.1:0 --tls-cert tls.crt \
    > out 2> err
  check "a certificate without its key is a usage error" "[ $? -ne 0 ] && [ -s err ]"
else
  bad "openssl could not make a test certificate"
fi

finish witness_cli_test
