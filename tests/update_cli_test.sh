#!/usr/bin/env bash
# `accord update`, `accord mirror` and `accord scan -d DB` as users run them: a node, a witness key,
# a policy with a quorum; a verified update, a scan whose detection cites its log entry; and the
# attacks a scanner must catch: no quorum, a cosignature by a key outside the policy, a rolled-back
# checkpoint, a split view, an altered entry, entries beyond the checkpoint, a retracted statement.
# Usage: update_cli_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
source "$(dirname "$(readlink -f "$0")")/lib.sh"
node_pid="" w1_pid="" w2_pid=""
trap 'kill $node_pid $w1_pid $w2_pid 2> /dev/null' EXIT

start_node() {  # start_node DIR [serve options]
  rm -f port
  local dir=$1
  shift
  "$accord" serve "$dir" --origin test.example/accord --listen 127.0.0.1:0 --port-file port "$@" > serve.out 2> serve.err &
  node_pid=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  url=http://127.0.0.1:$(cat port 2> /dev/null)
}
stop_node() { kill $node_pid; wait $node_pid 2> /dev/null; node_pid=""; }
# cosign DIR KEY...: the log's checkpoint with cosignatures by each witness key added
cosign() {
  local dir=$1 cp
  shift
  cp=$(mktemp)
  cp "$dir/checkpoint" "$cp"
  for k in "$@"; do "$accord" note sign --key "$k" "$cp" > "$cp.new" && mv "$cp.new" "$cp"; done
  cp "$cp" "$dir/checkpoint"
  rm -f "$cp"
}

"$accord" key generate alice keys > /dev/null || exit 1
"$accord" key generate w1 keys --cosigner > /dev/null && "$accord" key generate w2 keys --cosigner > /dev/null || exit 1
"$accord" key generate rogue keys --cosigner > /dev/null || exit 1
start_node node
printf '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:68:Eicar-Test-Signature\n' > eicar.hsb
printf 'rule Evil_String { strings: $a = "evil-payload" condition: $a }\n' > rules.yar
"$accord" submit --node "$url" --key keys/alice.key --register "Alice Lab" --country FR --hashes eicar.hsb --yara rules.yar > out 2>&1 || { cat out; exit 1; }
stop_node
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > samples-eicar.com
mkdir -p samples && mv samples-eicar.com samples/eicar.com && printf 'some evil-payload here\n' > samples/dropper.bin && echo clean > samples/clean.txt
check "the sample is EICAR" "[ \"\$(sha256sum samples/eicar.com | cut -c1-64)\" = 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f ]"

cat > policy <<POL
# the node's log, two witnesses, both needed
log $(cat node/node.vkey)
witness w1 $(cat keys/w1.vkey)
witness w2 $(cat keys/w2.vkey)
group both all w1 w2
quorum both
POL

# A served copy of the log (what a web server or mirror would serve).
cp -a node/log served1
cosign served1 keys/w1.key
"$accord" update --policy policy --from served1 -d db > out 2> err
rc=$?
check "one cosignature of two: the quorum is not met (exit 2)" "[ $rc -eq 2 ] && grep -q 'quorum not met' err && [ ! -e db/scan.accdb ]"
cp node/log/checkpoint served1/checkpoint && cosign served1 keys/w1.key keys/rogue.key
"$accord" update --policy policy --from served1 -d db > out 2> err
rc=$?
check "a cosignature by a key outside the policy counts for nothing" "[ $rc -eq 2 ] && grep -q 'quorum not met' err"
cp node/log/checkpoint served1/checkpoint && cosign served1 keys/w1.key keys/w2.key
# Freshness: cosignatures older than --max-age do not count (a frozen log looks just like this).
sleep 2
"$accord" update --policy policy --from served1 -d db --max-age 1 > out 2> err
rc=$?
check "--max-age: a quorum cosigned longer ago than the bound is refused (exit 2), nothing built" \
  "[ $rc -eq 2 ] && grep -q 'is not fresh: its newest cosignature is [0-9]* s old' err && [ ! -e db/scan.accdb ]"
"$accord" update --policy policy --from served1 -d db --max-age 1x > out 2> err
check "--max-age with a malformed duration is refused" "[ $? -eq 2 ] && grep -q 'not a duration' err"
"$accord" update --policy policy --from served1 -d db --max-age 1h > out 2> err
rc=$?
check "with the quorum, update builds the database (exit 0)" "[ $rc -eq 0 ] && grep -q 'cosigned by w1, w2' out && grep -q '3 statements, 2 loaded (1 hashes, 0 TLSH, 1 YARA rules)' out"
"$accord" scan -d db --no-cache samples > scan.out 2> scan.err
rc=$?
check "scan -d DB finds EICAR and the rule's sample (exit 1)" "[ $rc -eq 1 ] && grep -q 'samples/eicar.com: Eicar-Test-Signature FOUND' scan.out && grep -q 'samples/dropper.bin: Evil_String FOUND' scan.out"
check "each detection cites its log entry, author and checkpoint" \
  "grep -q 'samples/eicar.com: Eicar-Test-Signature CITED log test.example/accord entry 2 by Alice Lab (FR), checkpoint 3' scan.out && grep -q 'dropper.bin: Evil_String CITED log test.example/accord entry 1 by Alice Lab' scan.out"
"$accord" scan -d db --no-cache --json samples/eicar.com > scan.json
check "JSON carries the citation" "grep -q '\"cited\":true' scan.json && grep -q 'entry 2 by Alice Lab' scan.json"
"$accord" db build -o local.accdb --hashes eicar.hsb > /dev/null
"$accord" scan -d local.accdb --no-cache samples > /dev/null 2> err
rc=$?
check "a database that no verified update built is refused (exit 2)" "[ $rc -eq 2 ] && grep -q 'no provenance' err"
"$accord" scan -d local.accdb --unverified --no-cache samples > /dev/null 2> err
rc=$?
check "... unless --unverified" "[ $rc -eq 1 ]"
"$accord" scan -d db --policy policy --no-cache samples > /dev/null 2> err
rc=$?
check "scan --policy accepts a database verified against that policy" "[ $rc -eq 1 ]"
printf 'log %s\nquorum none\n' "$(cat node/node.vkey)" > lax.policy
"$accord" scan -d db --policy lax.policy --no-cache samples > /dev/null 2> err
rc=$?
check "... and refuses it against another policy (exit 2)" "[ $rc -eq 2 ] && grep -q 'another policy' err"
"$accord" update --policy policy --from served1 -d db > out 2> err
check "an update with nothing new leaves the database" "grep -q 'up to date' out"

# The log grows; an older cosigned checkpoint replayed later is refused.
cp served1/checkpoint old-checkpoint
start_node node
"$accord" submit --node "$url" --key keys/alice.key --retract 2 --reason "false positive" > out 2>&1 || cat out
stop_node
rm -rf served2 && cp -a node/log served2 && cosign served2 keys/w1.key keys/w2.key
"$accord" mirror --policy policy --from served2 --to mirror > out 2> err
check "mirror copies the verified log" "grep -q 'mirror: 0 -> 4 entries' out && \"$accord\" log verify mirror --vkey node/node.vkey > /dev/null"
"$accord" update --policy policy --from mirror -d db > out 2> err
rc=$?
check "update from a mirror directory: 3 -> 4 entries" "[ $rc -eq 0 ] && grep -q '3 -> 4 entries' out && grep -q '1 retracted' out"
"$accord" scan -d db --no-cache samples > scan.out
check "a retracted hash set no longer detects; the rule still does" "! grep -q Eicar scan.out && grep -q 'Evil_String FOUND' scan.out"
# A node that logs the retracted statement's bytes again (entry 4 = entry 2): the copy is refused,
# the retraction stands. (A node answers an identical resubmission with its first index.)
rm -rf evil && cp -a node evil
python3 - node/log/tile/entries/000.p/4 2 > replay.json <<'PY'
import sys
data, want, at, i = open(sys.argv[1], "rb").read(), int(sys.argv[2]), 0, 0
while at < len(data):  # c2sp.org/tlog-tiles entry bundle: 2-byte big-endian length, then the entry
    n = int.from_bytes(data[at:at + 2], "big")
    if i == want:
        sys.stdout.buffer.write(data[at + 2:at + 2 + n])
    at, i = at + 2 + n, i + 1
PY
"$accord" log append evil/log replay.json > out 2>&1 || cat out
cosign evil/log keys/w1.key keys/w2.key
rm -rf dbr && "$accord" update --policy policy --from evil/log -d dbr > out 2> err
rc=$?
"$accord" scan -d dbr --no-cache samples > scan.out
check "a retracted statement logged again is refused; the retraction stands" \
  "[ $rc -eq 0 ] && grep -q '0 -> 5 entries' out && grep -q '1 refused' out && grep -q 'entry 4 not loaded: AlreadyExists: the same bytes as entry 2' err && ! grep -q Eicar scan.out"
cp served2/checkpoint checkpoint-4 && cp old-checkpoint served2/checkpoint
"$accord" update --policy policy --from served2 -d db > out 2> err
rc=$?
check "a replayed older checkpoint is a rollback (exit 2)" "[ $rc -eq 2 ] && grep -q 'rollback' err"

# Split view: the node's key signs two different trees of the same size.
cp -a node fork
start_node node
"$accord" submit --node "$url" --key keys/alice.key --hashes eicar.hsb --created 2026-01-01T00:00:00Z > /dev/null 2>&1
stop_node
start_node fork
printf 'rule Other { condition: false }\n' > other.yar
"$accord" submit --node "$url" --key keys/alice.key --yara other.yar > /dev/null 2>&1
stop_node
rm -rf served3 fork3 && cp -a node/log served3 && cp -a fork/log fork3
cosign served3 keys/w1.key keys/w2.key && cosign fork3 keys/w1.key keys/w2.key
"$accord" update --policy policy --from served3 -d db > out 2> err
check "the log moves to 5 entries" "grep -q '4 -> 5 entries' out"
"$accord" update --policy policy --from fork3 -d db > out 2> err
rc=$?
check "a second tree of the same size is a split view, kept as evidence (exit 2)" \
  "[ $rc -eq 2 ] && grep -q 'split view' err && ls db/log/.accord/conflicts | grep -q served-5"

start_node node
printf 'rule Sixth { condition: false }\n' > sixth.yar
"$accord" submit --node "$url" --key keys/alice.key --yara sixth.yar > /dev/null 2>&1
stop_node
rm -rf served6 && cp -a node/log served6 && cosign served6 keys/w1.key keys/w2.key
"$accord" update --policy policy --from served6 -d db > out 2> err
"$accord" update --policy policy --from fork3 -d db > out 2> err
rc=$?
check "an older checkpoint that is not a prefix of the trusted tree is a split view too" \
  "[ $rc -eq 2 ] && grep -q 'not a prefix of the trusted tree of 6' err"

# An altered entry, and entries in the tiles that no checkpoint covers.
rm -rf db2 bad && cp -a served3 bad
sed -i 's/Alice Lab/Alice Lax/' bad/tile/entries/000.p/5
"$accord" update --policy policy --from bad -d db2 > out 2> err
rc=$?
check "an altered entry is refused, nothing kept (exit 2)" "[ $rc -eq 2 ] && grep -q 'does not hash to its leaf' err && [ ! -e db2/scan.accdb ]"
check "... and no fetched file is left behind" "[ -z \"\$(find db2 -path '*/.accord/tmp/*' -type f)\" ]"
rm -rf db3 beyond && cp -a served3 beyond && cp checkpoint-4 beyond/checkpoint
"$accord" update --policy policy --from beyond -d db3 > out 2> err
"$accord" scan -d db3 --no-cache samples > scan.out
check "entries in tiles beyond the checkpoint are not loaded" "grep -q '0 -> 4 entries' out && ! grep -q Eicar scan.out"
# Real witnesses over HTTP: the node sends each checkpoint to both and publishes their cosignatures.
start_witness() {  # start_witness NAME [PORT [SERVE OPTIONS]]: sets ${NAME}_pid and ${NAME}_url
  rm -f "$1.port"
  "$accord" witness serve "$1-state" --key "keys/$1.key" --log wnode/node.vkey --listen "127.0.0.1:${2:-0}" \
    --port-file "$1.port" "${@:3}" > "$1.out" 2> "$1.err" &
  eval "$1_pid=$!"
  for _ in $(seq 100); do [ -s "$1.port" ] && break; sleep 0.1; done
  eval "$1_url=http://127.0.0.1:$(cat "$1.port" 2> /dev/null)"
}
# poll_checkpoint CONDITION: fetches the node's checkpoint into served.cp until CONDITION (a shell
# test on served.cp) holds, for at most 10 s
poll_checkpoint() {
  for _ in $(seq 100); do
    curl -s "$url/checkpoint" > served.cp
    eval "$1" && return 0
    sleep 0.1
  done
  return 1
}
start_node wnode && stop_node  # creates the node's key, which the witnesses follow
start_witness w1 && start_witness w2
# --witness-quorum 1: a checkpoint is published once one witness cosigned it (default: both).
start_node wnode --witness "keys/w1.vkey@$w1_url" --witness "keys/w2.vkey@$w2_url" --witness-timeout 1000 \
  --witness-quorum 1
"$accord" submit --node "$url" --key keys/alice.key --register "Alice Lab" --country FR --hashes eicar.hsb > out 2>&1
poll_checkpoint '[ "$(sed -n 2p served.cp)" = 2 ] && [ "$(grep -c "^— w[12] " served.cp)" = 2 ]'
check "the node publishes checkpoints cosigned by both witnesses" "[ \"\$(sed -n 2p served.cp)\" = 2 ] && grep -q '^— w1 ' served.cp && grep -q '^— w2 ' served.cp"
sed "s|^log \(.*\)|log \1 $url|" policy | sed "s|^log .*|log $(cat wnode/node.vkey) $url|" > wpolicy
rm -rf wdb && "$accord" update --policy wpolicy -d wdb > out 2> err
rc=$?
check "update over HTTP from the policy's log URL, quorum met" "[ $rc -eq 0 ] && grep -q '0 -> 2 entries, cosigned by w1, w2' out"
"$accord" scan -d wdb --no-cache samples/eicar.com > scan.out
check "... and the scan detects with the citation" "grep -q 'Eicar-Test-Signature CITED log test.example/accord entry 1 by Alice Lab (FR), checkpoint 2' scan.out"
kill $w2_pid && wait $w2_pid 2> /dev/null
"$accord" submit --node "$url" --key keys/alice.key --yara rules.yar > out 2>&1
poll_checkpoint '[ "$(sed -n 2p served.cp)" = 3 ]'
check "a witness that is down delays publication only by the timeout" "[ \"\$(sed -n 2p served.cp)\" = 3 ] && grep -q '^— w1 ' served.cp && ! grep -q '^— w2 ' served.cp && grep -q 'witness w2' serve.err"
"$accord" update --policy wpolicy -d wdb > out 2> err
rc=$?
check "without w2's cosignature the quorum is not met and the database stays" "[ $rc -eq 2 ] && grep -q 'quorum not met' err && grep -q 'checkpoint 2' <(\"$accord\" scan -d wdb --no-cache samples/eicar.com)"
start_witness w2 "${w2_url##*:}"
poll_checkpoint 'grep -q "^— w2 " served.cp'
check "a witness back up is asked again and cosigns" "[ \"\$(sed -n 2p served.cp)\" = 3 ] && grep -q '^— w2 ' served.cp"
"$accord" update --policy wpolicy -d wdb > out 2> err
check "then the update goes through" "grep -q '2 -> 3 entries, cosigned by w1, w2' out"
stop_node
# By default a checkpoint is published only once every witness cosigned it.
start_node wnode --witness "keys/w1.vkey@$w1_url" --witness "keys/w2.vkey@$w2_url" --witness-timeout 500
kill $w2_pid && wait $w2_pid 2> /dev/null
printf 'rule Third { condition: false }\n' > third.yar
"$accord" submit --node "$url" --key keys/alice.key --yara third.yar > out 2>&1
sleep 1.5
curl -s "$url/checkpoint" > served.cp
check "with a witness down, the fully cosigned checkpoint stays published" \
  "grep -q 'index 3' out && [ \"\$(sed -n 2p served.cp)\" = 3 ] && grep -q '^— w2 ' served.cp"
start_witness w2 "${w2_url##*:}"
poll_checkpoint '[ "$(sed -n 2p served.cp)" = 4 ]'
check "... until it is back and cosigns the new one" "[ \"\$(sed -n 2p served.cp)\" = 4 ] && grep -q '^— w1 ' served.cp && grep -q '^— w2 ' served.cp"
# A participant whose registered name holds a control character: updates go on, shown escaped.
"$accord" key generate ctl keys > /dev/null
"$accord" submit --node "$url" --key keys/ctl.key --register "$(printf 'Ctl\001Lab')" --country FR --hashes eicar.hsb > out 2>&1
poll_checkpoint '[ "$(sed -n 2p served.cp)" = 6 ]'
"$accord" update --policy wpolicy --from "$url" -d wdb > out 2> err
rc=$?
"$accord" scan -d wdb --no-cache samples/eicar.com > scan.out
check "a control character in an author's name is replaced in citations, not fatal" \
  "[ $rc -eq 0 ] && grep -q 'entry 5 by Ctl?Lab (FR)' scan.out && ! grep -q \"\$(printf '\\001')\" scan.out"
stop_node
# An idle log stays fresh: its unchanged checkpoint is cosigned again every --witness-refresh.
start_node wnode --witness "keys/w1.vkey@$w1_url" --witness "keys/w2.vkey@$w2_url" --witness-refresh 1
poll_checkpoint '[ "$(grep -c "^— w[12] " served.cp)" = 2 ]'
cp served.cp before.cp
sleep 2
poll_checkpoint '! cmp -s served.cp before.cp && [ "$(grep -c "^— w[12] " served.cp)" = 2 ]'
check "an idle log's checkpoint is cosigned again: same tree, new cosignatures" \
  "! cmp -s served.cp before.cp && [ \"\$(head -3 served.cp)\" = \"\$(head -3 before.cp)\" ] && [ \"\$(sed -n 2p served.cp)\" = 6 ]"
"$accord" update --policy wpolicy --from "$url" -d wdb --max-age 5 > out 2> err
check "... so that an update with --max-age accepts it" "[ $? -eq 0 ] && grep -q 'up to date' out"
kill $w2_pid && wait $w2_pid 2> /dev/null
sleep 1.5  # a refresh round in flight when w2 stopped has ended
curl -s "$url/checkpoint" > before.cp
sleep 2
poll_checkpoint '[ "$(grep "^— w1 " served.cp)" != "$(grep "^— w1 " before.cp)" ]'
check "with a witness down, the others' cosignatures are still refreshed and its last one stays" \
  "[ \"\$(grep '^— w1 ' served.cp)\" != \"\$(grep '^— w1 ' before.cp)\" ] && [ \"\$(grep '^— w2 ' served.cp)\" = \"\$(grep '^— w2 ' before.cp)\" ]"
stop_node
# A witness on HTTPS with a self-signed certificate: the node trusts it with --witness-ca-cert.
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout wtls.key -out wtls.crt > /dev/null 2>&1; then
  kill $w1_pid && wait $w1_pid 2> /dev/null
  start_witness w1 0 --tls-cert wtls.crt --tls-key wtls.key
  w1_https=https://127.0.0.1:$(cat w1.port)
  "$accord" serve wnode --witness "keys/w1.vkey@$w1_https" --witness-ca-cert policy --listen 127.0.0.1:0 > out 2> err
  check "--witness-ca-cert with no certificate in the file is refused (exit 2)" "[ $? -eq 2 ] && grep -q 'no PEM certificate' err"
  start_node wnode --witness "keys/w1.vkey@$w1_https" --witness-timeout 1000
  printf 'rule Fourth { condition: false }\n' > fourth.yar
  "$accord" submit --node "$url" --key keys/alice.key --yara fourth.yar > out 2>&1
  sleep 1.5
  curl -s "$url/checkpoint" > served.cp
  check "an HTTPS witness the system's CAs do not vouch for is not asked (its checkpoint waits)" \
    "grep -q 'index 6' out && [ \"\$(sed -n 2p served.cp)\" = 6 ] && grep -q 'witness w1' serve.err"
  stop_node
  start_node wnode --witness "keys/w1.vkey@$w1_https" --witness-ca-cert wtls.crt --witness-timeout 1000
  poll_checkpoint '[ "$(sed -n 2p served.cp)" = 7 ]'
  check "... and with --witness-ca-cert it cosigns over HTTPS and the checkpoint is published" \
    "[ \"\$(sed -n 2p served.cp)\" = 7 ] && grep -q '^— w1 ' served.cp"
  stop_node
  kill $w1_pid && wait $w1_pid 2> /dev/null
else
  bad "openssl could not make a test certificate"
fi
finish update_cli_test
