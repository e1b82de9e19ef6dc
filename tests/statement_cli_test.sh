#!/usr/bin/env bash
# `accord statement sign|verify` as a user runs them: one statement of each kind signed and
# verified; a tampered, a non-canonical, an oversized and a TLP:AMBER statement refused with exit 2.
# Usage: statement_cli_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
source "$(dirname "$(readlink -f "$0")")/lib.sh"

"$accord" key generate alice keys > /dev/null || { echo "FAIL: key generate"; exit 1; }
pub=$(cut -d+ -f3- keys/alice.vkey | base64 -d | tail -c 32 | base64 -w0)

cat > registration.json <<JSON
{"name": "Example CERT", "country": "DE", "contact": "cert@example.org", "key": "$pub"}
JSON
cat > yara-rule.json <<'JSON'
{"source": "rule Example_Dropper {\n  strings: $a = \"evil\"\n  condition: $a\n}\n",
 "rules": ["Example_Dropper"], "meta": {"description": "drops evil"}}
JSON
cat > hash-set.json <<'JSON'
{"entries": [
  {"hash": "sha256", "digest": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "size": 68,
   "name": "Eicar-Test-Signature"},
  {"hash": "md5", "digest": "44d88612fea8a8f36de82e1278abb02f", "size": null, "name": "Eicar.Md5"},
  {"hash": "sha1", "digest": "3395856ce81f2b7382dee72602f798b642f14140", "size": 68, "name": "Eicar.Sha1"}]}
JSON
cat > tlsh-set.json <<'JSON'
{"entries": [{"tlsh": "T1A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3",
              "threshold": 40, "name": "Example.Tlsh"}]}
JSON
cat > indicator.json <<'JSON'
{"pattern": "[file:hashes.'SHA-256' = '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f']",
 "description": "the EICAR test file"}
JSON
echo '{"index": 1, "log": "example.org/accord", "reason": "superseded"}' > retraction.json
echo '{"about": 1, "log": "example.org/accord", "verdict": "confirmed", "text": "reproduced: the rule matches the sample"}' > audit-finding.json
cat > release.json <<'JSON'
{"name": "accord", "version": "0.1.0",
 "files": [{"path": "accord-0.1.0-linux-amd64", "sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}
JSON

for kind in registration yara-rule hash-set tlsh-set indicator retraction audit-finding release; do
  "$accord" statement sign --key keys/alice.key --kind $kind --body $kind.json \
    --created 2026-11-28T10:00:00Z > $kind.stmt 2> err.txt
  check "sign $kind" "[ \$? -eq 0 ] && [ -s $kind.stmt ]"
  "$accord" statement verify $kind.stmt > out.txt 2> err.txt
  check "verify $kind" "[ \$? -eq 0 ] && grep -qx 'kind: $kind' out.txt && grep -qx 'author: $pub' out.txt && grep -qx OK out.txt"
done

sed 's/drops evil/drops good/' yara-rule.stmt > tampered.stmt
"$accord" statement verify tampered.stmt > out.txt 2> err.txt
check "tampered refused" "[ \$? -eq 2 ] && grep -q 'PermissionDenied: signature does not verify' err.txt"

python3 -c "import json,sys; print(json.dumps(json.load(open('hash-set.stmt')), indent=1))" > spaced.stmt
"$accord" statement verify spaced.stmt > out.txt 2> err.txt
check "non-canonical refused" "[ \$? -eq 2 ] && grep -q 'not in RFC 8785 canonical form' err.txt"

python3 -c "print('{\"a\":\"' + 'x' * 70000 + '\"}')" > big.stmt
"$accord" statement verify big.stmt > out.txt 2> err.txt
check "oversized refused" "[ \$? -eq 2 ] && grep -q 'ResourceExhausted: statement of 70008 bytes, over the limit of 65535' err.txt"

python3 -c "
src = ''.join('rule r%d { condition: filesize == %d }\n' % (i, i) for i in range(1500))
import json; print(json.dumps({'source': src, 'rules': ['r%d' % i for i in range(1500)]}))" > big-body.json
"$accord" statement sign --key keys/alice.key --kind yara-rule --body big-body.json > out.txt 2> err.txt
check "oversized body refused at signing" "[ \$? -eq 2 ] && grep -q 'store large content beside the log' err.txt"

sed 's/"tlp":"clear"/"tlp":"amber"/' indicator.stmt > amber.stmt
"$accord" statement verify amber.stmt > out.txt 2> err.txt
check "TLP:AMBER refused" "[ \$? -eq 2 ] && grep -q 'accepts TLP:CLEAR only' err.txt"

echo '{"name": "x", "country": "de", "contact": "c", "key": "'$pub'"}' > badreg.json
"$accord" statement sign --key keys/alice.key --kind registration --body badreg.json > out.txt 2> err.txt
check "bad country refused" "[ \$? -eq 2 ] && grep -q 'ISO 3166-1' err.txt"

"$accord" statement sign --key keys/alice.key --kind poem --body indicator.json > out.txt 2> err.txt
check "unknown kind refused" "[ \$? -eq 2 ] && grep -q 'unknown kind' err.txt"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
