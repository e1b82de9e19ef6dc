#!/usr/bin/env bash
# `accord db` and `accord scan` as a user runs them: clamscan's output and exit codes, NDJSON,
# hostile file names, symlink loops, a rule file that does not compile, a corrupt database.
# Usage: scan_cli_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

mkdir -p tree/sub
printf 'this is the bad file\n' > tree/sub/evil.bin
printf 'harmless\n' > tree/clean.txt
printf 'rule Marker { strings: $a = "MARKER-1234" condition: $a }\n' > rules.yar
printf 'xx MARKER-1234 yy\n' > tree/marked.txt
printf 'MARKER-1234 in a weird name\n' > "tree/new
line.txt"
printf 'MARKER-1234\n' > "$(printf 'tree/bad\xffutf8.txt')"
ln -s .. tree/sub/loop
evil_sha=$(sha256sum tree/sub/evil.bin | cut -d' ' -f1)
evil_md5=$(md5sum tree/sub/evil.bin | cut -d' ' -f1)
printf '%s:%s:Test.Evil.Sha256\n' "$evil_sha" "$(stat -c %s tree/sub/evil.bin)" > sigs.hsb
printf '%s:*:Test.Evil.Md5\n' "$evil_md5" > sigs.hdb
(cd tree && zip -q ../tree/inner.zip sub/evil.bin 2>/dev/null || python3 -c "
import zipfile; z=zipfile.ZipFile('inner.zip','w'); z.write('sub/evil.bin'); z.close()")

"$accord" scan --hashes sigs.hsb --hashes sigs.hdb --yara rules.yar -r tree > out.txt 2> err.txt
rc=$?
check "exit code 1 when something is found (got $rc)" '[[ $rc == 1 ]]'
check "hash detection line" 'grep -q "^tree/sub/evil.bin: Test.Evil.Sha256 FOUND$" out.txt'
check "MD5 with SIZE * matches" 'grep -q "^tree/sub/evil.bin: Test.Evil.Md5 FOUND$" out.txt'
check "detection inside a zip names its path" 'grep -q "^tree/inner.zip!sub/evil.bin: Test.Evil.Sha256 FOUND$" out.txt'
check "YARA detection line" 'grep -q "^tree/marked.txt: Marker FOUND$" out.txt'
check "clean file OK line" 'grep -q "^tree/clean.txt: OK$" out.txt'
check "a newline in a name is escaped" 'grep -q "^tree/new\\\\x0aline.txt: Marker FOUND$" out.txt'
check "a non-UTF-8 byte is escaped" 'grep -q "^tree/bad\\\\xffutf8.txt: Marker FOUND$" out.txt'
check "the symlink loop is not followed" '! grep -q "loop" out.txt'
check "summary" 'grep -q "^Infected files: 5$" out.txt && grep -q "^Scanned files: 6$" out.txt'

"$accord" scan --hashes sigs.hsb -r -i --no-summary tree > out-i.txt
check "-i prints only what was found" '! grep -q ": OK$" out-i.txt && grep -q FOUND out-i.txt'
"$accord" scan --hashes sigs.hsb tree/clean.txt > /dev/null
check "exit code 0 when nothing is found" '[[ $? == 0 ]]'

"$accord" scan --hashes sigs.hsb --yara rules.yar -r --json tree > out.json
check "--json is one valid object per file" 'python3 -c "
import json,sys
objs=[json.loads(l) for l in open(\"out.json\")]
assert len(objs)==6, len(objs)
e=[o for o in objs if o[\"path\"]==\"tree/sub/evil.bin\"][0]
assert e[\"sha256\"]==\"'"$evil_sha"'\" and e[\"matches\"][0][\"name\"]==\"Test.Evil.Sha256\" and e[\"matches\"][0][\"kind\"]==\"sha256\" and e[\"matches\"][0][\"source\"]==\"sigs.hsb\", e
z=[o for o in objs if o[\"path\"]==\"tree/inner.zip\"][0]
assert z[\"matches\"][0][\"container\"]==\"tree/inner.zip\", z
"'

# Databases.
"$accord" db build -o sigs.accdb --hashes sigs.hsb --hashes sigs.hdb --yara rules.yar > build.txt
check "db build reports its contents" 'grep -q "1 MD5, 0 SHA-1, 1 SHA-256 signatures" build.txt && grep -q "1 YARA rules" build.txt'
"$accord" scan -d sigs.accdb -r -i --no-summary tree > out-db.txt
check "a database finds what the files find" 'grep -q "^tree/sub/evil.bin: Test.Evil.Sha256 FOUND$" out-db.txt && grep -q "^tree/marked.txt: Marker FOUND$" out-db.txt'
check "db verify" '"$accord" db verify sigs.accdb >/dev/null'
cp sigs.accdb corrupt.accdb && printf 'X' | dd of=corrupt.accdb bs=1 seek=200 conv=notrunc 2>/dev/null
"$accord" db verify corrupt.accdb > /dev/null 2> err.txt
check "a corrupt database is refused by verify (exit $?)" '[[ -s err.txt ]] && grep -qi "accord:" err.txt'
head -c 100 sigs.accdb > truncated.accdb
"$accord" scan -d truncated.accdb tree > /dev/null 2> err.txt
check "a truncated database is refused with exit 2 ($?)" '[[ $? -ne 0 ]] && grep -q "accord:" err.txt'

# Bad signature input.
printf 'rule Broken { strings: $a = "x" condition: $b }\n' > broken.yar
"$accord" scan --yara broken.yar tree > /dev/null 2> err.txt
rc=$?
check "a rule file that does not compile: exit 2, file and line ($rc: $(head -c 200 err.txt))" '[[ $rc == 2 ]] && grep -q "broken.yar:1:" err.txt'
printf 'zz:1:Bad\n' > bad.hsb
"$accord" scan --hashes bad.hsb tree > /dev/null 2> err.txt
rc=$?
check "a malformed hash line: exit 2, file and line ($rc: $(head -c 200 err.txt))" '[[ $rc == 2 ]] && grep -q "bad.hsb:1" err.txt'
"$accord" scan --hashes sigs.hsb does-not-exist > /dev/null 2> err.txt
check "a missing path is an error (exit $?)" '[[ $? == 2 ]] && grep -q "does-not-exist" err.txt'

# Limits are reported, never silent.
head -c 3000000 /dev/zero > big.bin
"$accord" scan --hashes sigs.hsb --max-filesize 1000000 big.bin > out.txt
check "a file over --max-filesize is reported" 'grep -q "big.bin: Heuristics.Limits.Exceeded.MaxFileSize FOUND" out.txt'
echo "$pass passed, $fail failed"
(( fail == 0 ))
