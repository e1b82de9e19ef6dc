#!/usr/bin/env bash
# TAXII POST (docs/taxii.md, "Adding objects"): a participant's token, an envelope of STIX 2.1
# objects posted with curl as a TAXII client would, the status resource, what is logged (plainly
# node-attested) and what is refused and why; tokens revoked; a scanner that loads node-attested
# rules only when told to (`accord update --trust-attested`), and evidence that says so.
# Usage: taxii_post_test.sh ACCORD_BIN WORK_DIR [SCHEMA_TEST_SCRIPT]
set -uo pipefail
accord=$1 work=$2 schema_test=${3:-}
source "$(dirname "$(readlink -f "$0")")/lib.sh"
node_pid=""
trap '[ -n "$node_pid" ] && kill $node_pid 2> /dev/null' EXIT

"$accord" serve node --origin test.example/accord --listen 127.0.0.1:0 --port-file port > serve.out 2> serve.err &
node_pid=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat port)
size() { curl -sf $url/checkpoint | sed -n 2p; }

"$accord" key generate alice keys > /dev/null && "$accord" key generate bob keys > /dev/null || exit 1
"$accord" submit --node "$url" --key keys/alice.key --register "Alice Lab" --country FR > /dev/null 2>&1 &&
  "$accord" submit --node "$url" --key keys/bob.key --register "Bob CERT" --country NL > /dev/null 2>&1 || exit 1
alice=$(curl -sf $url/participants | python3 -c 'import json,sys; print([p["key"] for p in json.load(sys.stdin)["participants"] if p["name"] == "Alice Lab"][0])')
bob=$(curl -sf $url/participants | python3 -c 'import json,sys; print([p["key"] for p in json.load(sys.stdin)["participants"] if p["name"] == "Bob CERT"][0])')

atoken=$("$accord" taxii-token add node --author "$alice" --label alice-lab 2> err)
check "taxii-token add prints a token once and keeps only its hash (mode 600)" \
  "[[ '$atoken' == accord_* ]] && ! grep -q '$atoken' node/taxii-tokens && [ \"\$(stat -c %a node/taxii-tokens)\" = 600 ]"
btoken=$("$accord" taxii-token add node --author "$bob" --label bob-cert 2> /dev/null)
"$accord" taxii-token add node --author not-a-key --label x > /dev/null 2> err
rc=$?
check "taxii-token add refuses a malformed key (exit 2)" "[ $rc -eq 2 ] && grep -q 'not a base64 Ed25519' err"
mkdir -p notanode
"$accord" taxii-token add notanode --author "$alice" --label alice-lab > out 2> err
rc=$?
"$accord" taxii-token add nosuchdir --author "$alice" --label alice-lab > /dev/null 2>> err
rc2=$?
check "taxii-token refuses a directory that holds no node (exit 2) and writes nothing there" \
  "[ $rc -eq 2 ] && [ $rc2 -eq 2 ] && [ ! -s out ] && [ \"\$(grep -c 'holds no node' err)\" = 2 ] && [ -z \"\$(ls -A notanode)\" ] && [ ! -e nosuchdir ]"
check "taxii-token list shows both labels" "'$accord' taxii-token list node | grep -q alice-lab && '$accord' taxii-token list node | grep -q bob-cert"

acoll=$(python3 -c "import uuid,sys; print(uuid.uuid5(uuid.UUID('6022a5e9-177a-448a-a558-804e182b0156'), 'collection:participant:$alice'))")
bcoll=$(python3 -c "import uuid,sys; print(uuid.uuid5(uuid.UUID('6022a5e9-177a-448a-a558-804e182b0156'), 'collection:participant:$bob'))")
T='application/taxii+json;version=2.1'
curl -sf -H "Accept: $T" -H "Authorization: Bearer $atoken" $url/taxii2/api/collections/ > colls
check "collections: can_write only on the token holder's own collection" \
  "python3 -c 'import json,sys; c={x[\"id\"]: x[\"can_write\"] for x in json.load(open(\"colls\"))[\"collections\"]}; sys.exit(0 if c[\"$acoll\"] and not c[\"$bcoll\"] and sum(c.values()) == 1 else 1)'"
curl -sf -H "Accept: $T" $url/taxii2/api/collections/$acoll/ > coll
check "... and nowhere without a token" "python3 -c 'import json,sys; sys.exit(1 if json.load(open(\"coll\"))[\"can_write\"] else 0)'"

CLEAR=marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487
WHITE=marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9
AMBER=marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421
ind() {  # ind UUID-SUFFIX PATTERN_TYPE PATTERN MARKINGS-JSON
  printf '{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2026-11-28T10:00:00.000Z","modified":"2026-11-28T10:00:00.000Z","valid_from":"2026-11-28T10:00:00Z","name":"n%s","pattern_type":"%s","pattern":%s%s}' \
    "$1" "$1" "$2" "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$3")" "$4"
}
rule='rule Posted_Marker { strings: $a = "posted-by-taxii-marker" condition: $a }'
{
  printf '{"objects":['
  ind 1 yara "$rule" ",\"object_marking_refs\":[\"$CLEAR\"]"; printf ','
  ind 2 stix "[file:hashes.'SHA-256' = '$(printf x | sha256sum | cut -c1-64)']" ",\"object_marking_refs\":[\"$WHITE\"]"; printf ','
  ind 3 stix "[file:name = 'a.exe']" ",\"object_marking_refs\":[\"$AMBER\"]"; printf ','
  ind 4 stix "[file:name = 'b.exe']" ""; printf ','
  ind 5 yara 'rule Broken { condition: nosuchthing }' ",\"object_marking_refs\":[\"$CLEAR\"]"; printf ','
  ind 6 sigma 'title: x' ",\"object_marking_refs\":[\"$CLEAR\"]"; printf ','
  printf '{"type":"identity","spec_version":"2.1","id":"identity--00000000-0000-4000-8000-000000000009","created":"2026-11-28T10:00:00.000Z","modified":"2026-11-28T10:00:00.000Z","name":"Alice Lab","identity_class":"organization"}'
  printf ']}'
} > envelope.json
before=$(size)
code=$(curl -s -o status.json -w '%{http_code}' -X POST -H "Accept: $T" -H "Content-Type: $T" \
  -H "Authorization: Bearer $atoken" --data-binary @envelope.json $url/taxii2/api/collections/$acoll/objects/)
check "POST: 202 with a complete status resource, 2 of 7 logged" \
  "[ $code = 202 ] && python3 -c 'import json,sys; s=json.load(open(\"status.json\")); sys.exit(0 if s[\"status\"] == \"complete\" and s[\"total_count\"] == 7 and s[\"success_count\"] == 2 and s[\"failure_count\"] == 5 and s[\"pending_count\"] == 0 else 1)'"
check "the log grew by exactly the two statements" "[ \$(size) = \$((before + 2)) ]"
msg() { python3 -c "import json; print([d.get('message','') for d in json.load(open('status.json'))['$1'] if d['id'].endswith('$2')][0])"; }
check "success names the index, statement and that it is node-attested" "msg successes 0001 | grep -q 'logged at index $before as statement [0-9a-f]\{64\}, node-attested for'"
check "TLP:AMBER refused: TLP:CLEAR only" "msg failures 0003 | grep -q 'TLP:CLEAR only'"
check "an unmarked object refused" "msg failures 0004 | grep -q 'not marked TLP:CLEAR'"
check "a rule that does not compile refused with the compiler's line" "msg failures 0005 | grep -q 'does not compile.*:1:'"
check "another pattern type refused" "msg failures 0006 | grep -q 'pattern_type sigma'"
check "an identity is not logged, and says why" "msg failures 0009 | grep -q 'identity object is not logged'"
curl -sf $url/statements/$before > leaf.json
check "the leaf is node-attested: an attestation, not the author's signature" \
  "python3 -c 'import json,sys; l=json.load(open(\"leaf.json\")); l=l.get(\"statement\", l) if \"leaf\" not in l else json.loads(l[\"leaf\"]); sys.exit(0)' && grep -q 'attestation' leaf.json && grep -q Posted_Marker leaf.json"
python3 -c 'import json,sys; sys.stdout.write(json.dumps(json.load(open("leaf.json"))["statement"], separators=(",", ":"), ensure_ascii=False))' > attested.json
"$accord" statement verify attested.json > out 2> err
check "statement verify: node-attested is not OK without the log's key (exit 2)" \
  "[ \$? -eq 2 ] && grep -q 'NODE-ATTESTED by' out && ! grep -q '^OK' out"
"$accord" statement verify attested.json --log-key node/node.vkey > out 2> err
check "... OK with the log's key, said to be attested" "[ \$? -eq 0 ] && grep -q 'attester: the log' out && grep -q '^OK' out"
"$accord" statement verify attested.json --log-key keys/alice.vkey > out 2> err
check "... refused against another key" "[ \$? -eq 2 ] && grep -q 'not the log' err"
sid=$(python3 -c 'import json; print(json.load(open("status.json"))["id"])')
check "GET status: the poster reads it again" \
  "curl -sf -H 'Accept: $T' -H 'Authorization: Bearer $atoken' $url/taxii2/api/status/$sid/ | cmp -s - status.json"
code=$(curl -s -o body -w '%{http_code}' -H "Accept: $T" -H "Authorization: Bearer $btoken" $url/taxii2/api/status/$sid/)
check "... another participant does not (404)" "[ $code = 404 ]"
code=$(curl -s -o body -w '%{http_code}' -H "Accept: $T" $url/taxii2/api/status/$sid/)
check "... nor anyone without a token (401)" "[ $code = 401 ]"

curl -sf -H "Accept: $T" "$url/taxii2/api/collections/$acoll/objects/?match%5Btype%5D=indicator" > served.json
check "TAXII serves the posted rule, extension attested: true with the node's key" \
  "python3 -c 'import json,sys; o=[x for x in json.load(open(\"served.json\"))[\"objects\"] if \"Posted_Marker\" in x.get(\"pattern\",\"\")]; e=list(o[0][\"extensions\"].values())[0]; sys.exit(0 if len(o) == 1 and e[\"attested\"] is True and len(e[\"attested_by\"]) == 44 else 1)'"
if [ -n "$schema_test" ]; then
  bash "$schema_test" served.json schema > schema.out 2>&1
  rc=$?
  if [ $rc -eq 77 ]; then echo "skip: STIX schemas not available"; else
    check "the served objects validate against the OASIS STIX 2.1 schemas" "[ $rc -eq 0 ]"
  fi
fi

post() {  # post AUTH-HEADER COLLECTION [CONTENT-TYPE [BODY-FILE]]
  curl -s -o body -w '%{http_code}' -X POST -H "Accept: $T" -H "Content-Type: ${3:-$T}" ${1:+-H "$1"} \
    --data-binary @"${4:-envelope.json}" $url/taxii2/api/collections/$2/objects/
}
before=$(size)
code=$(post "" $acoll)
check "no token: 401 with a WWW-Authenticate challenge" \
  "[ $code = 401 ] && curl -s -D - -o /dev/null -X POST -H 'Content-Type: $T' --data-binary @envelope.json $url/taxii2/api/collections/$acoll/objects/ | grep -qi '^WWW-Authenticate: Bearer'"
code=$(post "Authorization: Bearer accord_notatoken" $acoll)
check "an unknown token: 401" "[ $code = 401 ]"
code=$(post "Authorization: Bearer $atoken" $bcoll)
check "Alice's token on Bob's collection: 403" "[ $code = 403 ] && grep -q 'own collection' body"
code=$(post "Authorization: Bearer $atoken" all)
check "... and on the collection of all: 403" "[ $code = 403 ]"
code=$(post "Authorization: Bearer $atoken" $acoll application/json)
check "wrong content type: 415" "[ $code = 415 ]"
printf '{"objects":[' > broken.json
code=$(post "Authorization: Bearer $atoken" $acoll "$T" broken.json)
check "malformed JSON: 400" "[ $code = 400 ]"
{ printf '{"objects":['; ind 10 stix "[file:name = 'x.exe']" ",\"object_marking_refs\":[\"$CLEAR\"]"; printf ',{"type":"indicator"}]}'; } > noid.json
code=$(post "Authorization: Bearer $atoken" $acoll "$T" noid.json)
check "an object without an id (a status could not name it): 400, the whole envelope" \
  "[ $code = 400 ] && grep -q 'objects\[1\] is not a STIX object with an' body"
head -c 1100000 /dev/zero | tr '\0' ' ' > big.json
code=$(post "Authorization: Bearer $atoken" $acoll "$T" big.json)
check "an envelope over max_content_length: 413" "[ $code = 413 ]"
code=$(post "Authorization: Bearer $atoken" $acoll)
check "the same envelope again: the same statements, answered as already logged" \
  "[ $code = 202 ] && python3 -c 'import json,sys; s=json.load(open(\"body\")); sys.exit(0 if s[\"success_count\"] == 2 and all(\"already logged at index\" in x[\"message\"] for x in s[\"successes\"]) else 1)'"
{ printf '{"objects":['; ind 8 yara "$rule" ",\"object_marking_refs\":[\"$CLEAR\"]"; printf ']}'; } > again.json
code=$(post "Authorization: Bearer $atoken" $acoll "$T" again.json)
check "another object with the same rule: refused, the name is Alice's already" \
  "[ $code = 202 ] && python3 -c 'import json,sys; s=json.load(open(\"body\")); sys.exit(0 if s[\"failure_count\"] == 1 and \"already published a rule named\" in s[\"failures\"][0][\"message\"] else 1)'"
check "nothing refused or repeated was logged" "[ \$(size) = $before ]"
code=$(curl -s -o body -w '%{http_code}' -X POST -u "bob:$btoken" -H "Accept: $T" -H "Content-Type: $T" \
  --data-binary "{\"objects\":[$(ind 7 stix "[file:name = 'c.exe']" ",\"object_marking_refs\":[\"$CLEAR\"]")]}" \
  $url/taxii2/api/collections/$bcoll/objects/)
check "HTTP Basic with the token as password works (TAXII clients)" "[ $code = 202 ] && grep -q '\"success_count\":1' body"
"$accord" taxii-token revoke node --author "$bob" > out
code=$(curl -s -o body -w '%{http_code}' -X POST -u "bob:$btoken" -H "Content-Type: $T" --data-binary @envelope.json \
  $url/taxii2/api/collections/$bcoll/objects/)
check "a revoked token: 401 at once, no restart" "grep -q 'revoked 1' out && [ $code = 401 ]"

# A scanner: node-attested rules are loaded only with --trust-attested, and evidence says so.
printf 'log %s %s\nquorum none\n' "$(cat node/node.vkey)" "$url" > policy
mkdir -p samples && printf 'xx posted-by-taxii-marker xx' > samples/hit.txt
"$accord" update --policy policy -d db > out 2> err
rc=$?
check "update: node-attested statements counted, not loaded, by default" \
  "[ $rc -eq 0 ] && grep -q 'node-attested statements not loaded' out"
"$accord" scan -d db --no-cache samples > out 2> err
check "... so the posted rule does not fire" "[ \$? -eq 0 ] && ! grep -q Posted_Marker out"
"$accord" update --policy policy -d db --trust-attested > out 2> err
check "update --trust-attested rebuilds with them (same log)" "[ \$? -eq 0 ] && ! grep -q 'up to date' out && ! grep -q 'not loaded' out"
"$accord" scan -d db --no-cache samples > out 2> err
check "... and the posted rule fires, citing its entry" "[ \$? -eq 1 ] && grep -q 'Posted_Marker' out"
"$accord" evidence samples/hit.txt -d db -o ev.json > /dev/null 2> err
"$accord" evidence verify ev.json --policy policy --file samples/hit.txt > out 2> err
check "evidence for it verifies and says NODE-ATTESTED" "[ \$? -eq 0 ] && grep -q 'NODE-ATTESTED' out"
"$accord" update --policy policy -d db > out 2> err
check "dropping --trust-attested rebuilds without them" "grep -q 'not loaded' out"
kill $node_pid; wait $node_pid 2> /dev/null
"$accord" serve node --origin test.example/accord --listen 127.0.0.1:0 --port-file port2 > serve2.out 2> serve2.err &
node_pid=$!
for _ in $(seq 100); do [ -s port2 ] && break; sleep 0.1; done
check "a restarted node still gives the status resource to its poster (kept in the index)" \
  "curl -sf -H 'Accept: $T' -H 'Authorization: Bearer $atoken' http://127.0.0.1:$(cat port2)/taxii2/api/status/$sid/ | cmp -s - status.json"
kill $node_pid; wait $node_pid 2> /dev/null; node_pid=""
check "the log with node-attested entries verifies as an auditor checks it" \
  "'$accord' log verify node/log --vkey node/node.vkey > /dev/null"
finish taxii_post_test
