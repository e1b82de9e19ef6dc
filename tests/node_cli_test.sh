#!/usr/bin/env bash
# `accord serve` and `accord submit` as users run them: a node on a free port; participants that
# register and publish hashes, YARA rules, TLSH signatures, a STIX indicator and a retraction;
# the refusals a client must see (unknown author, a rule name reused, wrong content type, an
# oversized body, a path outside the log); lookups; a restart that keeps everything; the log
# verified as an auditor checks it; HTTPS with a self-signed certificate.
# Usage: node_cli_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
source "$(dirname "$(readlink -f "$0")")/lib.sh"
node_pid=""
trap '[ -n "$node_pid" ] && kill $node_pid 2> /dev/null' EXIT

start_node() {  # start_node [extra args]
  rm -f port
  "$accord" serve node --origin test.example/accord --listen 127.0.0.1:0 --port-file port "$@" > serve.out 2> serve.err &
  node_pid=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  port=$(cat port 2> /dev/null)
}
stop_node() { kill $node_pid; wait $node_pid 2> /dev/null; node_pid=""; }

"$accord" key generate alice keys > /dev/null && "$accord" key generate bob keys > /dev/null || exit 1
start_node
url=http://127.0.0.1:$port
check "serve prints the node's verifier key" "grep -q '^verifier key: test.example/accord+' serve.out"
check "serve created its key beside the log" "[ -f node/node.key ] && [ \"\$(stat -c %a node/node.key)\" = 600 ]"

printf '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:68:Eicar-Test-Signature\n44d88612fea8a8f36de82e1278abb02f:68:Eicar.Md5\n' > eicar.hsb
cat > rules.yar <<'YAR'
rule Example_Dropper {
  strings: $a = "evil"
  condition: $a
}
rule Example_Second { condition: filesize < 10 }
YAR

"$accord" submit --node "$url" --key keys/bob.key --hashes eicar.hsb > out 2> err
rc=$?
check "an unregistered author is refused by the node (exit 1, HTTP 403)" "[ $rc -eq 1 ] && grep -q 'HTTP 403' err && grep -q 'not registered' err"
"$accord" submit --node "$url" --key keys/alice.key --register "Alice Lab" --country FR --contact alice@example.org \
  --hashes eicar.hsb --yara rules.yar > out 2> err
rc=$?
check "register, hashes and rules are logged (exit 0)" "[ $rc -eq 0 ] && grep -q 'registration.*index 0' out && grep -q 'yara-rule.*index 1' out && grep -q 'hash-set.*index 2' out"
"$accord" submit --node "$url" --key keys/alice.key --yara rules.yar --created 2026-01-01T00:00:00Z > out 2> err
rc=$?
check "a rule name the author already uses is refused (exit 1, HTTP 409)" "[ $rc -eq 1 ] && grep -q 'HTTP 409' err"
printf 'T1A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3:40:Example.Tlsh\n' > x.tlsh
cat > bundle.json <<'JSON'
{"type": "bundle", "id": "bundle--6f0ed1e2-5d3c-4bb0-a8ae-6e4b5c1f6a10", "objects": [
 {"type": "indicator", "spec_version": "2.1", "id": "indicator--0c3f2bb7-2a9f-4a4c-9d3f-1bbf4f1e7a11",
  "created": "2026-11-28T10:00:00.000Z", "modified": "2026-11-28T10:00:00.000Z",
  "pattern": "[file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f']", "pattern_type": "stix",
  "valid_from": "2026-11-28T10:00:00Z", "description": "EICAR by MD5",
  "object_marking_refs": ["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}]}
JSON
sed 's/94868c89-83c2-464b-929b-a1a8aa3c8487/55d920b0-5e8b-4f79-9ee9-91f868d9b421/' bundle.json > amber.json
"$accord" submit --node "$url" --key keys/alice.key --stix amber.json > out 2> err
check "a STIX bundle marked TLP:AMBER is refused before anything is signed (exit 2)" \
  "[ \$? -eq 2 ] && grep -q 'TLP:CLEAR only' err && [ \"\$(curl -sf $url/checkpoint | sed -n 2p)\" = 3 ]"
"$accord" submit --node "$url" --key keys/alice.key --tlsh x.tlsh --stix bundle.json > out 2> err
rc=$?
check "TLSH signatures and a STIX indicator are logged" "[ $rc -eq 0 ] && grep -q 'tlsh-set.*index 3' out && grep -q 'indicator.*index 4' out"
"$accord" submit --node "$url" --key keys/alice.key --retract 3 --reason "superseded" > out 2> err
rc=$?
check "a retraction of the author's own statement is logged" "[ $rc -eq 0 ] && grep -q 'retraction.*index 5' out"
check "the retracted statement is marked" "curl -sf $url/statements/3 | grep -q '\"retracted\":true'"
check "the retraction names the node's log (from its checkpoint)" \
  "curl -sf $url/statements/5 | grep -q 'index.:3,.log.:.test.example/accord.'"
# A retraction made for another log (where index 4 is another statement) is refused here.
"$accord" submit --node "$url" --key keys/alice.key --retract 4 --log other.example/accord > out 2> err
check "a retraction that names another log is refused (exit 1), nothing logged" \
  "[ \$? -eq 1 ] && grep -q 'names the log .other.example/accord.; this is .test.example/accord.' err && [ \"\$(curl -sf $url/checkpoint | sed -n 2p)\" = 6 ]"
"$accord" submit --key keys/alice.key --retract 4 --dry-run > out 2> err
check "a retraction printed without a node needs --log" "[ \$? -eq 2 ] && grep -q 'needs --log' err"
"$accord" submit --key keys/alice.key --retract 4 --log - --dry-run > out 2> err
check "--log - names no log (for verifiers older than it)" "[ \$? -eq 0 ] && grep -q '.body.:{.index.:4}' out"
"$accord" submit --node "$url" --key keys/alice.key --retract 99 > out 2> err
check "a retraction of no statement is refused (HTTP 422)" "grep -q 'HTTP 422' err"

check "lookup by SHA-256 finds the hash set" \
  "curl -sf $url/lookup/hash/275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f | grep -q '\"index\":2'"
check "lookup by MD5 too" "curl -sf $url/lookup/hash/44D88612FEA8A8F36DE82E1278ABB02F | grep -q '\"kind\":\"hash-set\"'"
check "participants lists Alice Lab" "curl -sf $url/participants | grep -q 'Alice Lab'"
code=$(curl -s -o body -w '%{http_code}' -XPOST -H 'Content-Type: text/plain' --data-binary @bundle.json $url/statements)
check "wrong content type: 415" "[ $code = 415 ]"
head -c 100000 /dev/zero | tr '\0' 'a' > big
code=$(curl -s -o body -w '%{http_code}' -XPOST -H 'Content-Type: application/json' --data-binary @big $url/statements)
check "oversized body: 413" "[ $code = 413 ]"
code=$(curl -s -o body -w '%{http_code}' -XPOST -H 'Content-Type: application/json' --data-binary '{"statement":' $url/statements)
check "malformed JSON: 400 with a message" "[ $code = 400 ] && grep -q error body"
code=$(curl -s -o body -w '%{http_code}' --path-as-is $url/tile/../node.key)
check "no file outside the log's tiles is served" "[ $code = 404 ] && ! grep -q PRIVATE body"
check "the checkpoint is served as text/plain" \
  "curl -sfI $url/checkpoint | grep -qi '^content-type: text/plain; charset=utf-8'"
curl -sf $url/metrics > metrics
check "metrics count what was accepted and refused" \
  "grep -q '^accord_statements_accepted_total 6' metrics && grep -q '^accord_log_size 6' metrics"

# TAXII 2.1 (docs/taxii.md): discovery, the collections, objects with filters, refusals.
taxii=(-H 'Accept: application/taxii+json;version=2.1')
check "TAXII discovery names the API root" "curl -sf ${taxii[*]@Q} $url/taxii2/ | grep -q '/taxii2/api/'"
curl -sf "${taxii[@]}" $url/taxii2/api/collections/ > collections
check "TAXII collections: one for all and one per participant" \
  "python3 -c 'import json,sys; c=json.load(open(\"collections\"))[\"collections\"]; sys.exit(0 if len(c) == 2 else 1)'"
all=$(python3 -c 'import json; print([c["id"] for c in json.load(open("collections"))["collections"] if "all" in c["title"].lower() or "every" in c.get("description","").lower()][0])')
curl -sf -D headers "${taxii[@]}" "$url/taxii2/api/collections/$all/objects/?match%5Btype%5D=indicator&limit=2" > objects
check "TAXII objects: filtered by type, paged, with X-TAXII-Date-Added headers" \
  "python3 -c 'import json,sys; e=json.load(open(\"objects\")); o=e[\"objects\"]; sys.exit(0 if len(o) == 2 and all(x[\"type\"] == \"indicator\" for x in o) and e[\"more\"] and e[\"next\"] else 1)' && grep -qi '^X-TAXII-Date-Added-First' headers"
curl -sf "${taxii[@]}" "$url/taxii2/api/collections/$all/objects/?match%5Btype%5D=indicator&limit=2" > objects2
curl -sf $url/metrics > metrics
check "the same TAXII page again is the same, served from the cache of rendered statements" \
  "cmp -s objects objects2 && grep -Eq '^accord_taxii_render_cache_hits_total [1-9]' metrics &&
   grep -Eq '^accord_taxii_render_cache_statements [1-9]' metrics"
code=$(curl -s -o body -w '%{http_code}' "${taxii[@]}" "$url/taxii2/api/collections/$all/objects/?added_after=yesterday")
check "TAXII: a bad filter is 400" "[ $code = 400 ]"
code=$(curl -s -o body -w '%{http_code}' -H 'Accept: text/html' "$url/taxii2/api/collections/$all/objects/")
check "TAXII: an unacceptable Accept is 406" "[ $code = 406 ]"
code=$(curl -s -o body -w '%{http_code}' -X DELETE "${taxii[@]}" "$url/taxii2/api/collections/$all/objects/")
check "TAXII: nothing can be deleted" "[ $code = 405 ] && [ \"\$(curl -sf $url/checkpoint | sed -n 2p)\" = 6 ]"

size_before=$(curl -sf $url/checkpoint | sed -n 2p)
stop_node
check "the log verifies as an auditor checks it" "'$accord' log verify node/log --vkey node/node.vkey > /dev/null"
start_node
url=http://127.0.0.1:$port
check "a restart keeps the log and the index" \
  "[ \"\$(curl -sf $url/checkpoint | sed -n 2p)\" = $size_before ] && curl -sf $url/statements/2 | grep -q Eicar"
"$accord" submit --node "$url" --key keys/alice.key --register "Alice Lab" --country FR --contact alice@example.org \
  --created 2026-01-01T00:00:00Z > out 2> err
check "a second registration is refused after the restart (HTTP 409)" "grep -q 'HTTP 409' err"
stop_node

# HTTPS with a self-signed certificate.
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout tls.key -out tls.crt > /dev/null 2>&1; then
  start_node --tls-cert tls.crt --tls-key tls.key
  check "HTTPS serves the checkpoint" "curl -sf --cacert tls.crt https://127.0.0.1:$port/checkpoint | grep -q test.example/accord"
  "$accord" submit --node "https://127.0.0.1:$port" --ca-cert tls.crt --key keys/bob.key --register Bob --country NL > out 2> err
  check "submit over HTTPS" "grep -q 'registration.*index 6' out"
  "$accord" submit --node "https://127.0.0.1:$port" --key keys/bob.key --retract 6 > out 2> err
  rc=$?
  check "an untrusted certificate is refused by submit (exit 2, nothing logged)" \
    "[ $rc -eq 2 ] && [ \"\$(curl -sf --cacert tls.crt https://127.0.0.1:$port/checkpoint | sed -n 2p)\" = 7 ]"
  # An auditor (anyone registered) publishes a finding about Alice's hash set, in this log.
  "$accord" submit --node "https://127.0.0.1:$port" --ca-cert tls.crt --key keys/bob.key --audit 2 \
    --verdict confirmed --text "reproduced: it matches the EICAR test file" > out 2> err
  check "an audit finding is logged, naming the log (read over HTTPS)" \
    "grep -q 'audit finding about 2 in test.example/accord.*index 7' out &&
     curl -sf --cacert tls.crt https://127.0.0.1:$port/statements/7 | grep -q 'about.:2,.log.:.test.example/accord.'"
  "$accord" submit --node "https://127.0.0.1:$port" --ca-cert tls.crt --key keys/bob.key --audit 2 > out 2> err
  check "an audit finding needs a verdict and a text (exit 2)" "[ \$? -eq 2 ] && grep -q 'needs --verdict' err"
  stop_node
else
  bad "openssl could not make a test certificate"
fi
echo "node_cli_test: $pass passed, $fail failed"
[ $fail -eq 0 ]
