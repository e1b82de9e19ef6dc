#!/usr/bin/env bash
# `accord evidence` and `accord evidence verify` as users run them: a verified update, bundles for
# detections by a hash set, a YARA rule, a TLSH set and inside a zip, each checked offline with
# the policy alone and against the sample; the proofs checked by Go's independent tlog code; and
# every forgery a bundle could carry refused with a message that names it.
# Usage: evidence_cli_test.sh ACCORD_BIN WORK_DIR [GOCHECK_SOURCE_DIR]
set -uo pipefail
accord=$1 work=$2 gosrc=${3:-}
source "$(dirname "$(readlink -f "$0")")/lib.sh"
node_pid=""
trap 'kill $node_pid 2> /dev/null' EXIT

"$accord" key generate alice keys > /dev/null && "$accord" key generate bob keys > /dev/null || exit 1
"$accord" key generate w1 keys --cosigner > /dev/null && "$accord" key generate w2 keys --cosigner > /dev/null || exit 1
"$accord" serve node --origin test.example/evidence --listen 127.0.0.1:0 --port-file port > serve.out 2> serve.err &
node_pid=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat port)

mkdir -p samples
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > samples/eicar.com
printf 'some evil-payload here\n' > samples/dropper.bin
echo clean > samples/clean.txt
awk 'BEGIN { n = split("invoice payment macro enable content document open account urgent click below attached file the and your to of please view now", w, " ")
             x = 7; for (i = 0; i < 1200; i++) { x = (x * 1103515245 + 12345) % 2147483648
             printf "%s%s", w[int(x / 65536) % n + 1], (i % 11 == 10 ? "\n" : " ") } }' > tlsh-sample.txt
sed '20s/.*/this line was changed by the attacker/' tlsh-sample.txt > samples/variant.txt
(cd samples && python3 -c 'import zipfile; z = zipfile.ZipFile("bundle.zip", "w"); z.write("eicar.com", "inner/eicar.com"); z.close()')
printf '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:68:Eicar-Test-Signature\n' > eicar.hsb
printf 'rule Evil_String { strings: $a = "evil-payload" condition: $a }\n' > rules.yar
{ "$accord" tlsh tlsh-sample.txt | sed 's/\t.*/:60:Test.Tlsh.Variant/'; } > variants.tlsh
"$accord" submit --node "$url" --key keys/alice.key --register "Alice Lab" --country FR --hashes eicar.hsb --yara rules.yar > out 2>&1 || { cat out; exit 1; }
"$accord" submit --node "$url" --key keys/bob.key --register "Bob CERT" --country BR --tlsh variants.tlsh > out 2>&1 || { cat out; exit 1; }
kill $node_pid; wait $node_pid 2> /dev/null; node_pid=""
# The witnesses' cosignatures, added by hand (tests/witness_cli_test.sh runs real witnesses).
cp -a node/log served
for k in keys/w1.key keys/w2.key; do "$accord" note sign --key $k served/checkpoint > cp.new && mv cp.new served/checkpoint; done
cat > policy <<POL
log $(cat node/node.vkey)
witness w1 $(cat keys/w1.vkey)
witness w2 $(cat keys/w2.vkey)
group both all w1 w2
quorum both
POL
"$accord" update --policy policy --from served -d db > out 2> err
check "update builds the database" "grep -q '5 statements, 3 loaded' out"

# Making bundles.
"$accord" evidence samples/eicar.com -d db -o eicar.ev > out 2> err
rc=$?
check "evidence for a hash detection (exit 0)" "[ $rc -eq 0 ] && grep -q '1 detection from the log, 2 entries proven' err && [ -s eicar.ev ]"
check "the bundle is RFC 8785 JSON naming the file, the detection and the proofs" \
  "python3 -c 'import json,sys; e=json.load(open(\"eicar.ev\")); d=e[\"detections\"][0]; sys.exit(not (e[\"accord\"]==\"accord/evidence@v1\" and d[\"signature\"]==\"Eicar-Test-Signature\" and d[\"kind\"]==\"sha256\" and d[\"entry\"]==2 and [x[\"index\"] for x in e[\"entries\"]]==[0,2] and e[\"file\"][\"sha256\"]==\"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f\"))' \
   && [ \"\$(python3 -c 'import json; print(json.dumps(json.load(open(\"eicar.ev\")), sort_keys=True, separators=(\",\",\":\"), ensure_ascii=False))')\" = \"\$(cat eicar.ev)\" ]"
"$accord" evidence verify eicar.ev --policy policy --file samples/eicar.com > out 2> err
rc=$?
check "verify offline, with the sample: verified (exit 0)" \
  "[ $rc -eq 0 ] && grep -q '^eicar.ev: verified' out && grep -q 'checkpoint 5' out && grep -q 'cosigned   w1 at .*, w2 at ' out && grep -q 'samples/eicar.com: Eicar-Test-Signature (sha256), found again in the sample' out && grep -q 'registered at entry 0 as Alice Lab (FR)' out"
"$accord" evidence verify eicar.ev --policy policy > out 2> err
check "verify without the sample says the file was not checked" \
  "[ $? -eq 0 ] && grep -q 'the file itself was not checked' out && grep -q \"bundle maker's claim\" out"
"$accord" evidence samples/dropper.bin -d db -o dropper.ev 2> err && "$accord" evidence verify dropper.ev --policy policy --file samples/dropper.bin > out 2>&1
check "a YARA detection: bundle and verification (the rule runs again on the sample)" \
  "[ $? -eq 0 ] && grep -q 'Evil_String (yara), found again' out"
"$accord" evidence samples/variant.txt -d db -o variant.ev 2> err && "$accord" evidence verify variant.ev --policy policy --file samples/variant.txt > out 2>&1
check "a TLSH detection: its distance is recomputed from the statement" \
  "[ $? -eq 0 ] && grep -q 'Test.Tlsh.Variant (tlsh), found again' out && grep -q 'as Bob CERT (BR)' out"
"$accord" evidence samples/bundle.zip -d db -o zip.ev 2> err && "$accord" evidence verify zip.ev --policy policy --file samples/bundle.zip > out 2>&1
check "a detection inside a zip names the member and is found again in the archive" \
  "[ $? -eq 0 ] && grep -q 'samples/bundle.zip!inner/eicar.com: Eicar-Test-Signature (sha256), found again' out"
"$accord" evidence samples/clean.txt -d db -o clean.ev > out 2> err
check "a clean file: nothing to prove (exit 2), nothing written" "[ $? -eq 2 ] && grep -q 'no detection from the log' err && [ ! -e clean.ev ]"
"$accord" db build -o local.accdb --hashes eicar.hsb > /dev/null && mkdir -p localdb && mv local.accdb localdb/scan.accdb
"$accord" evidence samples/eicar.com -d localdb -o local.ev > out 2> err
check "a database no verified update built gives no evidence (exit 2)" "[ $? -eq 2 ] && grep -q 'no provenance' err && [ ! -e local.ev ]"

# An independent implementation: Go's tlog.CheckRecord on the bundle's proofs.
if [ -n "$gosrc" ]; then
  (export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$PWD/gocache" GOFLAGS=-mod=mod
   go build -o gocheck "$gosrc/tools/gocheck/main.go") || bad "gocheck does not build"
  python3 -c 'import json; e=json.load(open("eicar.ev"))
for x in e["entries"]:
    open("proof.%d" % x["index"], "w").write(x["proof"]); open("leaf.%d" % x["index"], "w").write(x["leaf"])'
  check "Go checks the bundle's inclusion proofs (c2sp.org/tlog-proof@v1)" \
    "./gocheck check-proof proof.0 node/node.vkey leaf.0 && ./gocheck check-proof proof.2 node/node.vkey leaf.2"
  check "... and refuses one against the wrong leaf" "! ./gocheck check-proof proof.2 node/node.vkey leaf.0 2> /dev/null"
fi

# Forgeries: each refused (exit 2) with what is wrong.
edit() {  # edit IN OUT PYTHON: applies PYTHON to e (the parsed bundle), writes OUT
  python3 -c "import json,sys; e=json.load(open('$1')); $3; open('$2','w').write(json.dumps(e))"
}
refused() {  # refused NAME BUNDLE PATTERN [verify options]
  local name=$1 bundle=$2 pattern=$3
  shift 3
  "$accord" evidence verify "$bundle" --policy policy "$@" > out 2> err
  local rc=$?
  check "$name (exit $rc)" "[ $rc -eq 2 ] && grep -q 'NOT VERIFIED' err && grep -q \"$pattern\" err"
}
sed 's/Eicar-Test-Signature\\",\\"size/Eicar-Test-Signaturf\\",\\"size/' eicar.ev > f1.ev
refused "a statement altered by one byte is not in the tree" f1.ev "entry 2 is not in the checkpoint's tree"
edit eicar.ev f2.ev 'e["detections"][0]["signature"]="Other.Name"'
refused "a detection the statement does not make" f2.ev "does not list that digest under that name"
edit eicar.ev f3.ev 'e["detections"][0]["kind"]="md5"; e["detections"][0]["digest"]="00"*16'
refused "another digest than the statement's" f3.ev "does not list that digest"
edit eicar.ev f3b.ev 'e["detections"][0]["digest"]="00"*32'
refused "a SHA-256 detection whose digest is not the item's" f3b.ev "not the digest that matched"
edit eicar.ev f4.ev 'e["detections"][0]["citation"]=e["detections"][0]["citation"].replace("Alice Lab","Trusted Vendor")'
refused "a citation naming another author" f4.ev "is not what the log says"
edit eicar.ev f5.ev 'e["entries"]=e["entries"][1:]'
refused "without the author's registration" f5.ev "does not prove the author's registration"
edit eicar.ev f6.ev 'e["detections"][0]["kind"]="yara"; e["detections"][0]["digest"]=""'
refused "a hash statement passed off as a YARA rule" f6.ev "is not a yara-rule statement"
python3 -c 'import json; e=json.load(open("eicar.ev")); d=json.load(open("dropper.ev")); e["detections"][0]["entry"]=d["detections"][0]["entry"]; e["detections"][0]["citation"]=d["detections"][0]["citation"]; e["entries"]=d["entries"]; open("f7.ev","w").write(json.dumps(e))'
refused "a hash detection citing a YARA statement" f7.ev "is not a hash-set statement"
refused "the sample is not the file" eicar.ev "is not the file of this evidence" --file samples/clean.txt
# Someone else's file claimed to carry a real detection: the bundle ties the detection to the file.
edit eicar.ev f10.ev "e['file']['sha256']='$(sha256sum samples/clean.txt | cut -c1-64)'"
refused "a real statement's detection claimed for another file" f10.ev "another SHA-256 than the file's"
edit eicar.ev f11.ev 'e["detections"][0]["item_sha256"]=""'
refused "a digest detection without the item's SHA-256" f11.ev "lacks the item's SHA-256"
edit eicar.ev f12.ev 'e["detections"][0]["path"]="samples/eicar.com\n  sample     the file given is this file"'
refused "a path that would rewrite the report (control characters)" f12.ev "control character"
cat > policy-w3 <<POL
log $(cat node/node.vkey)
witness w1 $(cat keys/w1.vkey)
witness w3 $("$accord" key generate w3 keys --cosigner > /dev/null; cat keys/w3.vkey)
group both all w1 w3
quorum both
POL
"$accord" evidence verify eicar.ev --policy policy-w3 > out 2> err
check "a verifier whose policy needs another witness refuses it (exit 2)" "[ $? -eq 2 ] && grep -q 'quorum not met' err"
"$accord" key generate mallory keys > /dev/null
sed "s|^log .*|log $(cat keys/mallory.vkey)|" policy > policy-other-log
"$accord" evidence verify eicar.ev --policy policy-other-log > out 2> err
check "a checkpoint not signed by the policy's log is refused (exit 2)" "[ $? -eq 2 ] && grep -q 'NOT VERIFIED' err"
head -c 300 eicar.ev > f8.ev
refused "a truncated bundle is malformed" f8.ev "InvalidArgument: evidence"
edit eicar.ev f9.ev 'e["surprise"]=1'
refused "an unknown member is refused" f9.ev "unknown member"
finish evidence_cli_test
