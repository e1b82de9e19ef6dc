#!/usr/bin/env bash
# `accord db` and `accord scan` as a user runs them: clamscan's output and exit codes, NDJSON,
# hostile file names, symlink loops, a rule file that does not compile, a corrupt database.
# Usage: scan_cli_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
[[ $work == /* ]] || work=$PWD/$work  # absolute: the mount clean-up below matches /proc/mounts
# A run killed while its test mount was up leaves it mounted (below): unmounted before the clean-up.
grep -F " $work/" /proc/mounts | cut -d' ' -f2 | while read -r m; do umount "$(printf '%b' "$m")"; done
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
export XDG_CACHE_HOME=$work/xdg-cache  # the default scan cache: here, not in the user's home
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
check "the symlink loop is not followed: one line, as clamscan prints it" \
  'grep -qx "tree/sub/loop: Symbolic link" out.txt && ! grep -q "loop/" out.txt'
check "summary" 'grep -q "^Infected files: 5$" out.txt && grep -q "^Scanned files: 6$" out.txt'

"$accord" scan --hashes sigs.hsb -r -i --no-summary tree > out-i.txt
check "-i prints only what was found" '! grep -q ": OK$" out-i.txt && grep -q FOUND out-i.txt'
"$accord" scan --hashes sigs.hsb tree/clean.txt > /dev/null
check "exit code 0 when nothing is found" '[[ $? == 0 ]]'

"$accord" scan --hashes sigs.hsb --yara rules.yar -r --json tree > out.json
check "--json is one valid object per file" 'python3 -c "
import json,sys
objs=[json.loads(l) for l in open(\"out.json\")]
assert {\"path\": \"tree/sub/loop\", \"result\": \"symlink\"} in objs, objs
objs=[o for o in objs if o.get(\"result\")!=\"symlink\"]
assert len(objs)==6, len(objs)
e=[o for o in objs if o[\"path\"]==\"tree/sub/evil.bin\"][0]
assert e[\"sha256\"]==\"'"$evil_sha"'\" and e[\"matches\"][0][\"name\"]==\"Test.Evil.Sha256\" and e[\"matches\"][0][\"kind\"]==\"sha256\" and e[\"matches\"][0][\"source\"]==\"sigs.hsb\", e
z=[o for o in objs if o[\"path\"]==\"tree/inner.zip\"][0]
assert z[\"matches\"][0][\"container\"]==\"tree/inner.zip\", z
"'

# YARA rules only, no cache, no memo (which hashes files for itself): text output hashes only
# what needs it, --json still names every file's SHA-256 (ScanOptions::file_digests).
"$accord" scan --yara rules.yar -r --json --no-cache --scan-duplicates tree > out-yara.json
clean_sha=$(sha256sum tree/clean.txt | cut -d' ' -f1)
check "--json --no-cache with rules only names a clean file's SHA-256" 'python3 -c "
import json
objs=[json.loads(l) for l in open(\"out-yara.json\")]
objs=[o for o in objs if o.get(\"result\")!=\"symlink\"]
assert all(len(o.get(\"sha256\", \"\"))==64 for o in objs), objs
c=[o for o in objs if o[\"path\"]==\"tree/clean.txt\"][0]
assert c[\"sha256\"]==\"'"$clean_sha"'\", c
"'
"$accord" scan --yara rules.yar -r --no-cache tree > out-yara.txt
check "text output without a cache finds the same" 'grep -q "^tree/marked.txt: Marker FOUND$" out-yara.txt && grep -q "^tree/clean.txt: OK$" out-yara.txt'

# Databases.
"$accord" db build -o sigs.accdb --hashes sigs.hsb --hashes sigs.hdb --yara rules.yar > build.txt
check "db build reports its contents" 'grep -q "1 MD5, 0 SHA-1, 1 SHA-256 signatures" build.txt && grep -q "1 YARA rules" build.txt'
"$accord" scan -d sigs.accdb --unverified -r -i --no-summary tree > out-db.txt
check "a database finds what the files find" 'grep -q "^tree/sub/evil.bin: Test.Evil.Sha256 FOUND$" out-db.txt && grep -q "^tree/marked.txt: Marker FOUND$" out-db.txt'
check "db verify" '"$accord" db verify sigs.accdb >/dev/null'
cp sigs.accdb corrupt.accdb && printf 'X' | dd of=corrupt.accdb bs=1 seek=200 conv=notrunc 2>/dev/null
"$accord" db verify corrupt.accdb > /dev/null 2> err.txt
check "a corrupt database is refused by verify (exit $?)" '[[ -s err.txt ]] && grep -qi "accord:" err.txt'
head -c 100 sigs.accdb > truncated.accdb
"$accord" scan -d truncated.accdb --unverified tree > /dev/null 2> err.txt
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
# -v: "Scanning PATH" before each file's lines; with --quiet nothing printed, the line in the log.
"$accord" scan --no-cache --no-summary -v --hashes sigs.hsb tree/clean.txt > out.txt 2> err.txt
check "-v: the Scanning line, then the OK line" '[[ $(cat out.txt) == $'"'"'Scanning tree/clean.txt\ntree/clean.txt: OK'"'"' ]]'
rm -f v.log
"$accord" scan --no-cache --no-summary -v --quiet -l v.log --hashes sigs.hsb tree/clean.txt > out.txt
check "-v --quiet: nothing printed, the Scanning line in the log" \
  '[[ ! -s out.txt ]] && grep -qx "Scanning tree/clean.txt" v.log'
# An option given '=' and nothing after it is an error; the next argument is not taken as its value.
for o in --exclude-pua= --max-filesize= --tempdir=; do
  "$accord" scan --no-cache --no-summary --hashes sigs.hsb "$o" tree/clean.txt > out.txt 2> err.txt; rc=$?
  check "$o then a path: exit 2, nothing scanned ($rc: $(head -c 100 err.txt))" \
    '[[ $rc == 2 && ! -s out.txt ]] && grep -q "gives the option no value" err.txt'
done

# Limits are reported, never silent.
head -c 3000000 /dev/zero > big.bin
"$accord" scan --hashes sigs.hsb --max-filesize 1000000 big.bin > out.txt
check "a file over --max-filesize is reported" 'grep -q "big.bin: Heuristics.Limits.Exceeded.MaxFileSize FOUND" out.txt'

# The scan cache (docs/scan-cache.md): a rescan answers for unchanged files unread, and reports
# exactly what a scan does (detections and limit notes included); a changed file is scanned again.
mkdir -p cached/sub
printf 'clean one\n' > cached/a.txt
printf 'clean two\n' > cached/sub/b.txt
printf 'this is the bad file\n' > cached/sub/evil.bin
printf 'harmless harmless!!\n' > cached/later.bin  # as long as evil.bin, to become it below
head -c 3000 /dev/zero > cached/big.bin             # over --max-filesize below
# The settle rule: files that changed within twice the kernel's writeback window (about 70 s) before
# a scan are not recorded. Under the default, a tree written just now is scanned again in full...
"$accord" scan --hashes sigs.hsb --cache "$work/fresh.cache" -r cached > /dev/null
"$accord" scan --hashes sigs.hsb --cache "$work/fresh.cache" -r cached > fresh.txt
check "files written just now are not recorded ($(grep '^Cached' fresh.txt))" 'grep -q "^Cached files: 0$" fresh.txt'
# ...so the rest of this test settles them in 2 s, as ACCORD_SCAN_CACHE_SETTLE_MS allows.
export ACCORD_SCAN_CACHE_SETTLE_MS=2000
sleep 2.2
cscan() { "$accord" scan --hashes sigs.hsb --cache "$work/scan.cache" --max-filesize 2000 -r "$@" cached; }
cscan > cache1.txt
rc1=$?
cscan > cache2.txt
rc2=$?
check "the cache file is private (mode $(stat -c %a scan.cache))" '[[ $(stat -c %a scan.cache) == 600 ]]'
check "a rescan reports the same lines and exit code ($rc1, $rc2)" \
  '[[ $rc1 == 1 && $rc2 == 1 ]] && diff <(grep -v -e "^Time:" -e "Date:" -e "^Cached" -e "^Data" cache1.txt | sort) <(grep -v -e "^Time:" -e "Date:" -e "^Cached" -e "^Data" cache2.txt | sort)'
check "the rescan repeats the detection and the limit note" \
  'grep -qx "cached/sub/evil.bin: Test.Evil.Sha256 FOUND" cache2.txt && grep -qx "cached/big.bin: Heuristics.Limits.Exceeded.MaxFileSize FOUND" cache2.txt && grep -qx "Infected files: 1" cache2.txt'
check "the summary says how many came from the cache" 'grep -q "^Cached files: 0$" cache1.txt && grep -q "^Cached files: 5$" cache2.txt'
cscan -i --no-summary > cache-i.txt
check "-i from the cache: only the found lines" \
  '[[ $(wc -l < cache-i.txt) == 2 ]] && diff <(grep FOUND cache1.txt | sort) <(sort cache-i.txt)'
cscan --json > cache1.json
cscan --json --no-cache > nocache.json
check "--json objects from the cache are those of a scan" 'diff <(sort cache1.json) <(sort nocache.json)'
mtime=$(stat -c %y cached/later.bin)
cp cached/sub/evil.bin cached/later.bin && touch -d "$mtime" cached/later.bin  # same size, old mtime
cscan -i --no-summary > cache3.txt
check "a file changed since (same size, mtime put back) is scanned again and found" \
  'grep -q "^cached/later.bin: Test.Evil.Sha256 FOUND$" cache3.txt'
mtime=$(stat -c %y cached/sub/evil.bin)
printf 'this is the gud file\n' > cached/sub/evil.bin && touch -d "$mtime" cached/sub/evil.bin  # same size, old mtime
rm cached/later.bin
cscan --no-summary > cache-cleaned.txt
rc=$?
check "a file cleaned since is scanned again and reported OK, exit 0 ($rc)" \
  '[[ $rc == 0 ]] && grep -qx "cached/sub/evil.bin: OK" cache-cleaned.txt && ! grep -q "Test.Evil" cache-cleaned.txt'
printf 'this is the bad file\n' > cached/sub/evil.bin
printf 'harmless harmless!!\n' > cached/later.bin
printf 'garbage' > scan.cache
cscan > cache4.txt 2> err.txt
check "a damaged cache is a warning, then ignored" 'grep -q "warning: scan cache .* is damaged" err.txt && grep -q "^Scanned files: 5$" cache4.txt && grep -q "^Cached files: 0$" cache4.txt'
cscan --no-cache > cache5.txt
check "--no-cache: no cache line" '! grep -q "^Cached" cache5.txt'
"$accord" scan --hashes sigs.hsb -r cached > /dev/null
check "the default cache is in \$XDG_CACHE_HOME/accord, private" \
  '[[ $(stat -c %a xdg-cache/accord) == 700 && $(stat -c %a xdg-cache/accord/scan.cache) == 600 ]]'


# TLSH fuzzy signatures: a signature made from a sample finds a modified copy of it.
mkdir -p tlsh
awk 'BEGIN { n = split("invoice payment macro enable content document open account urgent click below attached file the and your to of please view now", w, " ")
             x = 7; for (i = 0; i < 1200; i++) { x = (x * 1103515245 + 12345) % 2147483648
             printf "%s%s", w[int(x / 65536) % n + 1], (i % 11 == 10 ? "\n" : " ") } }' > tlsh/sample.txt
sed '20s/.*/this line was changed by the attacker/' tlsh/sample.txt > tlsh/variant.txt
echo 'and one more line at the end' >> tlsh/variant.txt
"$accord" tlsh tlsh/sample.txt > tlsh/sample.out
check "accord tlsh prints TLSH<TAB>FILE" 'grep -qE "^[0-9A-F]{70}	tlsh/sample.txt$" tlsh/sample.out'
{ echo '# made with accord tlsh'; sed 's/\t.*/:40:Test.Tlsh.Variant/' tlsh/sample.out; } > variants.tlsh
"$accord" db build -o tlsh.accdb --tlsh variants.tlsh > build.txt
check "db build counts TLSH signatures ($(cat build.txt))" 'grep -q " 1 TLSH signatures," build.txt'
"$accord" scan -d tlsh.accdb --unverified --no-summary tlsh/variant.txt tree/clean.txt > out.txt
rc=$?
check "a modified copy is found by TLSH: exit 1 ($rc)" '[[ $rc == 1 ]]'
check "TLSH detection line" 'grep -qx "tlsh/variant.txt: Test.Tlsh.Variant FOUND" out.txt && grep -qx "tree/clean.txt: OK" out.txt'
"$accord" scan --tlsh variants.tlsh --json tlsh/variant.txt > out.json
check "--tlsh without a database; NDJSON has kind, source and distance" 'python3 -c "
import json
m=json.loads(open(\"out.json\").readline())[\"matches\"][0]
assert m[\"kind\"]==\"tlsh\" and m[\"source\"]==\"variants.tlsh\" and 0 < m[\"distance\"] <= 40, m
"'
printf '%s:1001:Too.Wide\n' "$(cut -f1 tlsh/sample.out)" > wide.tlsh
"$accord" db build -o wide.accdb --tlsh wide.tlsh > /dev/null 2> err.txt
rc=$?
check "a bad TLSH line: exit 2, file and line ($rc: $(head -c 200 err.txt))" '[[ $rc == 2 ]] && grep -q "wide.tlsh:1: THRESHOLD 1001" err.txt'

# A low soft limit on open files (300 directories named, 30 descriptors): accord scan raises it
# to the hard limit, so no directory or file is an error.
mkdir -p many && for i in $(seq 1 300); do mkdir -p many/d$i && echo "file $i" > many/d$i/f; done
(ulimit -Sn 30 && exec "$accord" scan --hashes sigs.hsb -r many/d*) > out.txt 2> err.txt
rc=$?
check "300 directories under a soft limit of 30 open files: all scanned ($rc)" \
  '[[ $rc == 0 ]] && grep -qx "Scanned files: 300" out.txt && ! grep -q ERROR err.txt'

# Out of memory (limits set above what the process may allocate; here a 2 GiB sparse file under a
# 1 GB address-space cap): that file is an error, the others are scanned, and nothing crashes.
# Not under AddressSanitizer, which reserves terabytes of address space.
# (the list read whole: `grep -q` in a pipe under pipefail can fail on ldd's SIGPIPE)
libs=$(ldd "$accord" 2> /dev/null)
if [[ $libs == *libasan* || $libs == *libtsan* ]]; then
  echo "skip: out of memory under a sanitizer"
else
  truncate -s 2G oom-big.bin
  printf '%s:*:Test.Evil.Md5\n' "$evil_md5" > oom.hdb
  (ulimit -v 1000000 && exec "$accord" scan --hashes oom.hdb --max-filesize 4000000000 \
     --max-scansize 4000000000 oom-big.bin tree/sub/evil.bin) > out.txt 2> err.txt
  rc=$?
  check "out of memory: the file is an error, the others scanned, exit 1 not a crash ($rc)" \
    '[[ $rc == 1 ]] && grep -qx "oom-big.bin: out of memory, not scanned ERROR" err.txt &&
     grep -qx "tree/sub/evil.bin: Test.Evil.Md5 FOUND" out.txt && grep -qx "Total errors: 1" out.txt'
  # One thread: the files after it are read into a buffer of their own again (the thread's old
  # buffer was let go before the allocation that failed).
  cp tree/sub/evil.bin evil-copy.bin
  (ulimit -v 1000000 && exec "$accord" scan -j 1 --no-cache --hashes oom.hdb --max-filesize 4000000000 \
     --max-scansize 4000000000 tree/sub/evil.bin oom-big.bin evil-copy.bin) > out.txt 2> err.txt
  rc=$?
  check "out of memory on one thread: the files after it are scanned ($rc: $(head -c 300 err.txt))" \
    '[[ $rc == 1 ]] && grep -qx "tree/sub/evil.bin: Test.Evil.Md5 FOUND" out.txt &&
     grep -qx "evil-copy.bin: Test.Evil.Md5 FOUND" out.txt && grep -qx "Total errors: 1" out.txt'
  (ulimit -v 1000000 && exec "$accord" scan --hashes oom.hdb --max-filesize 4000000000 \
     --max-scansize 4000000000 oom-big.bin) > out.txt 2> err.txt
  rc=$?
  check "out of memory alone: exit 2 ($rc)" '[[ $rc == 2 ]] && grep -q "out of memory, not scanned ERROR" err.txt'
  rm -f oom-big.bin
fi

# ---- clamscan's path filters (--exclude, --include, --exclude-dir, --include-dir), -o, --file-list
# and standard input ("-"), line for line against clamscan itself on the same tree (Debian's
# clamav: ClamAV's own implementation of these options). Its names of unofficial signatures end
# in ".UNOFFICIAL"; the order of files in a directory is its own: lines are compared sorted.
if command -v clamscan > /dev/null; then
  mkdir -p ftree/d1/logs ftree/skip/deep ftree/keep
  printf 'this is the bad file\n' > ftree/d1/evil.exe
  printf 'this is the bad file\n' > ftree/skip/deep/evil.bin
  printf 'text\n' > ftree/a.txt
  printf 'log\n' > ftree/b.log
  printf 'log\n' > ftree/d1/logs/c.log
  printf 'text\n' > ftree/keep/d.txt
  printf 'text\n' > "$(printf 'ftree/keep/e\xff.txt')"
  printf '%s:%s:Test.Evil.Md5\n' "$evil_md5" "$(stat -c %s tree/sub/evil.bin)" > filter.hdb
  here=$(pwd -P | sed 's/[]\\.*^$()+?{}|[]/\\&/g')  # this directory as a pattern (files match by real path)
  # (and accord writes a byte that is not UTF-8 as \xNN, where clamscan writes it raw)
  unofficial() { LC_ALL=C sed -e 's/\.UNOFFICIAL FOUND$/ FOUND/' -e $'s/\xff/\\\\xff/g' | sort; }
  for opts in '--exclude=\.log$' '--exclude-dir=skip' '--exclude-dir=^ftree/d1$ --exclude=a\.txt' \
    '--include=\.(txt|exe)$' '--include-dir=d1' '--include-dir=^ftree($|/d1)' \
    '--exclude=/evil[^/]*$ --include=evil' '--exclude-dir=logs --include=\.log$ -o' \
    '-o --exclude=/[^/]*[[:digit:]]{3}[^/]*$' $'--exclude=\xff' '--exclude-dir=skip/ --exclude=a.txt/' \
    "--exclude=^$here/ftree/a\\.txt$ --include=^$here/"; do
    # shellcheck disable=SC2086  # the options split as a user's shell would split them
    clamscan --no-summary -r -d filter.hdb $opts ftree 2> /dev/null | unofficial > clam.out
    # shellcheck disable=SC2086
    "$accord" scan --no-cache --no-summary -r --hashes filter.hdb $opts ftree 2> err.txt | sort > accord.out
    check "the same lines as clamscan with $opts ($(diff clam.out accord.out | head -c 300))" \
      'diff -q clam.out accord.out > /dev/null && [[ -s accord.out ]]'
  done
  # Files are matched by their real path (absolute, links resolved), directories by the path the
  # walk names; a named directory's trailing slashes are dropped.
  ln -s ftree flink
  for target in ftree/ ftree// flink; do
    opts="--exclude-dir=^(ftree|flink)/skip$ --exclude=^$here/ftree/a\\.txt$ --exclude-dir=^ftree$"
    # shellcheck disable=SC2086
    clamscan --no-summary -r -d filter.hdb $opts "$target" 2> /dev/null | unofficial > clam.out
    # shellcheck disable=SC2086
    "$accord" scan --no-cache --no-summary -r --hashes filter.hdb $opts "$target" 2> err.txt | sort > accord.out
    check "the same lines as clamscan for $target ($(diff clam.out accord.out | head -c 300))" \
      'diff -q clam.out accord.out > /dev/null && [[ -s accord.out ]]'
  done
  "$accord" scan --no-cache --no-summary -r -i --hashes filter.hdb --exclude-dir=skip ftree > out.txt
  check "-i leaves out the Excluded lines, as clamscan" '! grep -q Excluded out.txt && grep -q FOUND out.txt'
  "$accord" scan --no-cache --json -r --hashes filter.hdb --exclude='\.log$' --exclude-dir=skip ftree > out.json
  check "--json: an excluded path is an object with result \"excluded\"" \
    '[[ $(grep -c "\"result\":\"excluded\"" out.json) == 3 ]] &&
     grep -qx "{\"path\":\"ftree/skip\",\"result\":\"excluded\"}" out.json'
  "$accord" scan --no-cache --hashes filter.hdb -r --exclude='(' ftree > out.txt 2> err.txt
  rc=$?
  check "a pattern that does not compile: exit 2 before scanning, naming it ($rc: $(cat err.txt))" \
    '[[ $rc == 2 && ! -s out.txt ]] && grep -q -- "--exclude \"(\"" err.txt'

  printf 'ftree/a.txt\r\n\nftree/d1\nftree/missing\n' > list.txt
  clamscan --no-summary -d filter.hdb -f list.txt 2> /dev/null | unofficial > clam.out
  "$accord" scan --no-cache --no-summary --hashes filter.hdb -f list.txt 2>&1 | sort > accord.out
  check "--file-list: the listed paths, as clamscan ($(diff clam.out accord.out | head -c 300))" \
    'grep -qx "ftree/a.txt: OK" accord.out && grep -qx "ftree/d1/evil.exe: Test.Evil.Md5 FOUND" accord.out &&
     grep -q "^ftree/missing: .*ERROR$" accord.out &&
     diff <(grep -v missing clam.out) <(grep -v missing accord.out) > /dev/null'
  printf 'ftree/d1/evil.exe\n' | "$accord" scan --no-cache --no-summary --hashes filter.hdb -f /dev/stdin > out.txt
  check "--file-list from a pipe" 'grep -qx "ftree/d1/evil.exe: Test.Evil.Md5 FOUND" out.txt'
  (cd ftree/d1 && : > ../../empty.list && "$accord" scan --no-cache --hashes ../../filter.hdb -f ../../empty.list) > out.txt
  check "an empty --file-list scans nothing, not the current directory (exit $?)" \
    '[[ $? == 0 ]] && grep -qx "Scanned files: 0" out.txt'

  clamscan --no-summary -d filter.hdb - < tree/sub/evil.bin 2> /dev/null | unofficial > clam.out
  cat tree/sub/evil.bin | "$accord" scan --no-cache --hashes filter.hdb - > out.txt
  rc=$?
  check "standard input from a pipe: the line clamscan prints, exit 1 ($rc)" \
    '[[ $rc == 1 ]] && grep -qx "stdin: Test.Evil.Md5 FOUND" out.txt && grep -qxf clam.out out.txt &&
     grep -qx "Scanned files: 1" out.txt'
  "$accord" scan --no-cache --no-summary --hashes filter.hdb - ftree/a.txt < tree/sub/evil.bin > out.txt
  check "standard input from a file, beside a path" \
    'grep -qx "stdin: Test.Evil.Md5 FOUND" out.txt && grep -qx "ftree/a.txt: OK" out.txt'
  printf 'clean\n' | "$accord" scan --no-cache --no-summary --hashes filter.hdb - > out.txt
  check "a clean standard input: stdin: OK, exit 0" '[[ $? == 0 ]] && grep -qx "stdin: OK" out.txt'
  head -c 5000 /dev/zero | "$accord" scan --no-cache --no-summary --max-filesize 4096 --hashes filter.hdb - > out.txt
  check "standard input over --max-filesize: the limit, not a partial scan" \
    'grep -qx "stdin: Heuristics.Limits.Exceeded.MaxFileSize FOUND" out.txt'
  printf 'x' | "$accord" scan --no-cache --hashes filter.hdb - - > out.txt 2> err.txt
  check "standard input twice: an error" '[[ $? == 2 ]] && grep -q "more than once" err.txt'
  "$accord" scan --no-cache --quiet --hashes filter.hdb ftree/d1/evil.exe ftree/a.txt ftree/missing > out.txt 2> err.txt
  rc=$?
  check "--quiet: nothing on standard output, the error on standard error, exit 1 ($rc)" \
    '[[ $rc == 1 && ! -s out.txt ]] && grep -q "^ftree/missing: .*ERROR$" err.txt'
  "$accord" scan --no-cache --no-summary --stdout -z --hashes filter.hdb ftree/a.txt ftree/missing > out.txt 2> err.txt
  check "--stdout: the error line on standard output; -z accepted" \
    '[[ ! -s err.txt ]] && grep -q "^ftree/missing: .*ERROR$" out.txt && grep -qx "ftree/a.txt: OK" out.txt'
  # --bell: one BEL on standard error for each file found, as clamscan rings it; --quiet too.
  clamscan --no-summary --bell -d filter.hdb ftree/a.txt ftree/d1/evil.exe ftree/skip/deep/evil.bin > /dev/null 2> clam.err
  "$accord" scan --no-cache --no-summary --bell --hashes filter.hdb ftree/a.txt ftree/d1/evil.exe \
    ftree/skip/deep/evil.bin > /dev/null 2> err.txt
  "$accord" scan --no-cache --quiet --bell --hashes filter.hdb ftree/d1/evil.exe > /dev/null 2> err2.txt
  check "--bell: a BEL for each file found, as clamscan ($(od -An -c clam.err | tr -d ' '))" \
    '[[ $(cat err.txt) == $'"'"'\a\a'"'"' && $(cat clam.err) == $'"'"'\a\a'"'"' && $(cat err2.txt) == $'"'"'\a'"'"' ]]'
  # -v: "Scanning PATH" before each file's lines, -i or not, as clamscan prints it (one path a
  # call: accord's threads may finish files in another order); the log has them too.
  for f in ftree/a.txt ftree/d1/evil.exe; do
    for o in "" -i; do
      clamscan --no-summary -v $o -d filter.hdb "$f" 2> /dev/null | sed 's/\.UNOFFICIAL FOUND$/ FOUND/' > clam.out
      "$accord" scan --no-cache --no-summary -v $o --hashes filter.hdb "$f" > out.txt 2> err.txt
      check "-v $o $f: the lines clamscan prints ($(tr '\n' '|' < out.txt))" 'diff -q clam.out out.txt > /dev/null'
    done
  done
  # clamscan's options for stages accord lacks: taken when clamscan takes them, refused when it
  # refuses them (exit 2 before scanning), and they change nothing.
  inert=(--max-embeddedpe=10M --max-htmlnormalize=40M --max-partitions=50 --pcre-match-limit=5
         --bytecode=no --bytecode-unsigned=yes --nocerts --phishing-sigs=no --normalize=no --force-to-disk
         --exclude-pua=Tool --exclude-pua=Win.Packer --structured-cc-mode=1 --detect-structured=no
         --official-db-only=no)
  # (Both PUA lists at once are taken without --detect-pua, as clamscan takes them.)
  clamscan --no-summary "${inert[@]}" --include-pua=Spy --detect-pua=no -d filter.hdb ftree/d1/evil.exe > clam.out 2> /dev/null; crc=$?
  sed -i 's/\.UNOFFICIAL FOUND$/ FOUND/' clam.out
  "$accord" scan --no-cache --no-summary "${inert[@]}" --include-pua=Spy --detect-pua=no --hashes filter.hdb \
    ftree/d1/evil.exe > out.txt 2> err.txt; rc=$?
  check "clamscan's options of stages accord lacks are taken, as clamscan takes them ($crc, $rc: $(head -c 200 err.txt))" \
    '[[ $rc == 1 && $crc == 1 && ! -s err.txt ]] && diff -q clam.out out.txt > /dev/null'
  clamscan --no-summary --detect-pua -d filter.hdb ftree/d1/evil.exe > clam.out 2> /dev/null; crc=$?
  sed -i 's/\.UNOFFICIAL FOUND$/ FOUND/' clam.out
  "$accord" scan --no-cache --no-summary --detect-pua --hashes filter.hdb ftree/d1/evil.exe > out.txt 2> err.txt; rc=$?
  check "--detect-pua: taken, the same lines ($crc, $rc)" '[[ $rc == 1 && $crc == 1 ]] && diff -q clam.out out.txt > /dev/null'
  for o in --max-embeddedpe=abc --max-partitions=1K --bytecode-timeout=x --structured-cc-mode=3 --bytecode=maybe \
           "--detect-pua --exclude-pua=Tool --include-pua=Spy"; do
    clamscan --no-summary $o -d filter.hdb ftree/a.txt > /dev/null 2>&1; crc=$?
    "$accord" scan --no-cache --no-summary $o --hashes filter.hdb ftree/a.txt > out.txt 2> err.txt; rc=$?
    check "$o: refused as clamscan refuses it ($crc, $rc: $(head -c 120 err.txt))" \
      '[[ $rc == 2 && $crc == 2 && ! -s out.txt && -s err.txt ]]'
  done
  # --disable-cache is --no-cache; --tempdir and --leave-temps are taken (no temporary file is written).
  XDG_CACHE_HOME=$work/xdg-none "$accord" scan --disable-cache --tempdir "$work/no-such-dir" --leave-temps \
    --no-summary --hashes filter.hdb ftree/d1/evil.exe > out.txt 2> err.txt
  check "--disable-cache, --tempdir, --leave-temps: taken, no cache written ($(head -c 200 err.txt))" \
    '[[ ! -s err.txt && ! -e $work/xdg-none && ! -e $work/no-such-dir ]] && grep -q "evil.exe: Test.Evil.Md5 FOUND" out.txt'
  # --log: appended to, a separator line first; the FOUND, Excluded and error lines and the summary,
  # no OK line: the lines clamscan's own log has.
  rm -f clam.log accord.log
  clamscan -r -d filter.hdb --exclude-dir=skip -l clam.log ftree ftree/missing > /dev/null 2>&1
  "$accord" scan --no-cache -r --hashes filter.hdb --exclude-dir=skip -l accord.log ftree ftree/missing > /dev/null 2>&1
  "$accord" scan --no-cache --quiet --hashes filter.hdb -l accord.log ftree/d1/evil.exe > /dev/null 2>&1
  found() { grep -e ' FOUND$' -e ' Excluded$' "$1" | unofficial; }
  check "--log: the FOUND and Excluded lines of clamscan's log, two runs appended, no OK line ($(diff <(found clam.log) <(found accord.log | uniq) | head -c 200))" \
    '[[ $(grep -c "^-\{79\}$" accord.log) == 2 && $(grep -c "^Scanned files: " accord.log) == 2 ]] &&
     diff <(found clam.log) <(found accord.log | uniq) > /dev/null && ! grep -q ": OK$" accord.log &&
     grep -q "^ftree/missing: .*ERROR$" accord.log && [[ $(grep -c "evil.exe: Test.Evil.Md5 FOUND" accord.log) == 2 ]]'
  "$accord" scan --no-cache --hashes filter.hdb -l /nonexistent/dir/x.log ftree/a.txt > out.txt 2> err.txt
  check "--log into a directory that does not exist: exit 2 before scanning" \
    '[[ $? == 2 && ! -s out.txt ]] && grep -q -- "--log /nonexistent/dir/x.log" err.txt'
  (cd ftree/d1 && clamscan --no-summary -d ../../filter.hdb 2> /dev/null | unofficial) > clam.out
  (cd ftree/d1 && "$accord" scan --no-cache --no-summary --hashes ../../filter.hdb | sort) > accord.out
  check "no path: the current directory by its absolute path, as clamscan ($(head -c 200 accord.out))" \
    'diff -q clam.out accord.out > /dev/null && grep -q "^/.*/ftree/d1/evil.exe: Test.Evil.Md5 FOUND$" accord.out'
  "$accord" scan --no-cache --hashes filter.hdb - <&- > out.txt 2> err.txt
  check "standard input closed: an error, not another file read as stdin" \
    '[[ $? == 2 ]] && grep -q "standard input is closed" err.txt'
  "$accord" scan --no-cache --hashes filter.hdb -l closed.log - <&- > out.txt 2> err.txt
  check "standard input closed, with a log that would take descriptor 0: the same error" \
    '[[ $? == 2 ]] && grep -q "standard input is closed" err.txt'
  # (a megabyte: more than a pipe holds, so a reader that stopped early would leave head a SIGPIPE)
  head -c 1000000 /dev/zero | "$accord" scan --no-cache --no-summary --max-filesize 4096 --hashes filter.hdb - > out.txt
  st=("${PIPESTATUS[@]}")
  check "standard input over the limit is read to its end: the writer is not cut off (${st[*]})" \
    '[[ ${st[0]} == 0 && ${st[1]} == 0 ]] && grep -qx "stdin: Heuristics.Limits.Exceeded.MaxFileSize FOUND" out.txt'

  # ---- The limit options' values as clamscan reads them: K/M/G, 0 for no limit, --max-recursion
  # counting the file itself as level 1. clamscan reports a limit only with --alert-exceeds-max;
  # accord always does, naming the member: its lines are cut to the top-level file's path.
  mkdir -p ltree
  head -c 2000 /dev/urandom > ltree/r2000.bin
  printf '%s:2000:Test.R2000\n' "$(sha256sum ltree/r2000.bin | cut -d' ' -f1)" > limits.hsb
  python3 - <<'PY'
import zipfile
inner, name = "ltree/r2000.bin", "r2000.bin"
for level in (1, 2, 3):
    with zipfile.ZipFile("ltree/l%d.zip" % level, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(inner, name)
    inner, name = "ltree/l%d.zip" % level, "l%d.zip" % level
PY
  toplevel() { sed -e 's/![^:]*: / /' -e 's/: / /' -e 's/\.UNOFFICIAL FOUND$/ FOUND/' | sort -u; }
  for opts in --max-filesize=1K --max-filesize=1k --max-filesize=1999 --max-filesize=2000 \
    --max-filesize=1M --max-filesize=1G --max-filesize=0 --max-scansize=0 --max-scansize=1m \
    --max-files=0 --max-scantime=0 --max-recursion=1 --max-recursion=2 --max-recursion=3 \
    --max-recursion=4 --max-recursion=0 '--max-filesize=0 --max-scansize=0 --max-files=0'; do
    # shellcheck disable=SC2086
    clamscan --no-summary --alert-exceeds-max=yes -d limits.hsb $opts ltree/* 2> /dev/null | toplevel > clam.out
    # shellcheck disable=SC2086
    "$accord" scan --no-cache --no-summary -i --hashes limits.hsb $opts ltree/* 2> err.txt | toplevel > accord.out
    check "$opts: what clamscan finds and the limits it reports ($(diff clam.out accord.out | head -c 300))" \
      'diff -q clam.out accord.out > /dev/null && [[ -s accord.out ]]'
  done
  "$accord" scan --no-cache --no-summary --hashes limits.hsb --max-recursion=0 ltree/l1.zip > out.txt 2> err.txt
  check "--max-recursion 0: the default, with clamscan's warning" \
    'grep -q "warning: --max-recursion 0 is not allowed: the default, 17" err.txt && grep -q "Test.R2000 FOUND" out.txt'
  for bad in --max-filesize=1.5M --max-scansize=10MB --max-filesize=1T --max-files=1K --max-scantime=-1 \
    --max-recursion=257; do
    "$accord" scan --no-cache --hashes limits.hsb -l limits.log "$bad" ltree > out.txt 2> err.txt
    check "$bad: exit 2 before anything is scanned or logged" \
      '[[ $? == 2 && ! -s out.txt && ! -e limits.log ]] && grep -q -- "${bad%%=*} \"${bad#*=}\": " err.txt'
  done

  # ---- --follow-dir-symlinks and --follow-file-symlinks (0 none, 1 those named, 2 all): the same
  # lines as clamscan for every pair of values, recursive or not, the tree or the links named.
  mkdir -p sl/tree sl/other/deep
  printf 'this is the bad file\n' > sl/other/evil.bin
  printf 'this is the bad file\n' > sl/other/deep/e2.bin
  ln -s ../other sl/tree/linkdir
  ln -s ../other/evil.bin sl/tree/linkfile
  follow_same=0 follow_all=0
  for d in 0 1 2; do
    for f in 0 1 2; do
      for r in -r ""; do
        for named in sl/tree "sl/tree/linkdir sl/tree/linkfile"; do
          follow_all=$((follow_all + 1))
          # shellcheck disable=SC2086
          clamscan --no-summary $r -d filter.hdb --follow-dir-symlinks=$d --follow-file-symlinks=$f $named \
            2> /dev/null | unofficial > clam.out
          # shellcheck disable=SC2086
          "$accord" scan --no-cache --no-summary $r --hashes filter.hdb --follow-dir-symlinks=$d \
            --follow-file-symlinks=$f $named 2> err.txt | sort > accord.out
          if diff -q clam.out accord.out > /dev/null && [[ -s accord.out ]]; then
            follow_same=$((follow_same + 1))
          else
            echo "  differs: --follow-dir-symlinks=$d --follow-file-symlinks=$f $r $named: $(diff clam.out accord.out | head -c 300)"
          fi
        done
      done
    done
  done
  check "--follow-*-symlinks: the same lines as clamscan in $follow_same of $follow_all runs" '[[ $follow_same == 36 ]]'
  # Loops: clamscan follows them until --max-dir-recursion (15); accord follows no link to a
  # directory it is inside (below the named one, or above it), so each directory is walked once.
  ln -s . sl/tree/self
  ln -s .. sl/tree/up
  timeout 20 "$accord" scan --no-cache --no-summary -r --hashes filter.hdb --follow-dir-symlinks=2 sl/tree \
    > out.txt 2> err.txt
  check "--follow-dir-symlinks=2 through loops: each file once, the loops' links not followed ($?)" \
    'grep -qx "sl/tree/self: Symbolic link" out.txt && grep -qx "sl/tree/up: Symbolic link" out.txt &&
     [[ $(grep -c "evil.bin: Test.Evil.Md5 FOUND" out.txt) == 1 && $(grep -c "e2.bin: Test.Evil.Md5 FOUND" out.txt) == 1 ]]'
  rm sl/tree/self sl/tree/up
  # A web of links (each of 15 directories links thrice to the next): clamscan walks every path
  # through it (3^14); accord follows one link to each directory.
  for i in $(seq 1 15); do
    mkdir -p "web/d$i" && printf 'this is the bad file\n' > "web/d$i/e.bin"
    for l in 1 2 3; do ln -s "../d$((i + 1))" "web/d$i/l$l"; done
  done
  rmdir web/d16 2> /dev/null
  timeout 20 "$accord" scan --no-cache --no-summary -r --hashes filter.hdb --follow-dir-symlinks=2 web/d1 \
    > out.txt 2> err.txt
  check "--follow-dir-symlinks=2 through a web of links: done, each directory's file once ($?)" \
    '[[ $(grep -c "e.bin: Test.Evil.Md5 FOUND" out.txt) == 15 && $(grep -c ": Symbolic link$" out.txt) -ge 28 ]]'

  # ---- --max-dir-recursion N: directories N deep at most, the one named the first. clamscan
  # skips the deeper ones in silence; accord names each one it does not enter (Excluded).
  mkdir -p dr/a/b/c/d
  for p in dr dr/a dr/a/b dr/a/b/c dr/a/b/c/d; do printf 'this is the bad file\n' > $p/e.bin; done
  for n in 0 1 2 3 10; do
    clamscan --no-summary -r -d filter.hdb --max-dir-recursion=$n dr 2> /dev/null | unofficial > clam.out
    "$accord" scan --no-cache --no-summary -r --hashes filter.hdb --max-dir-recursion=$n dr 2> err.txt | sort > accord.out
    check "--max-dir-recursion=$n: what clamscan finds, and the directory not entered named ($(diff clam.out <(grep -v ": Excluded$" accord.out) | head -c 300))" \
      'diff -q clam.out <(grep -v ": Excluded$" accord.out) > /dev/null &&
       { [[ $n == 10 ]] && ! grep -q Excluded accord.out || [[ $(grep -c ": Excluded$" accord.out) == 1 ]]; } &&
       { [[ $n != 0 ]] || grep -qx "dr: Excluded" accord.out; }'
  done
  # ---- clamscan's --scan-<kind>=no on ClamAV's test files (clam.exe in 44 containers, packers and
  # encodings): accord finds what clamscan finds with the same option, and more only where
  # docs/containers.md says (InstallShield setups, data: URIs).
  tf=/usr/share/clamav-testfiles
  if [[ -f $tf/clam.exe ]]; then
    printf '%s:%s:Clam.Exe.Test\n' "$(md5sum < "$tf/clam.exe" | cut -d' ' -f1)" "$(stat -c %s "$tf/clam.exe")" > clamexe.hdb
    tops() { sed -e "s|^$tf/||" -e 's/[!:].*//' | sort -u; }  # the files (not the members) found
    declare -A more=([archive]=clam_ISmsi_ext.exe [mail]=clam.exe.html [pe]="clam_IScab_ext.exe clam_IScab_int.exe")
    for kind in archive mail ole2 pdf pe html elf swf image; do
      clamscan --no-summary -i -d clamexe.hdb "--scan-$kind=no" "$tf" 2> /dev/null | tops > clam.out
      "$accord" scan --no-cache --no-summary -i --hashes clamexe.hdb "--scan-$kind=no" "$tf" 2> err.txt | tops > accord.out
      want=$(for f in ${more[$kind]:-}; do echo "$f"; done)
      missed=$(comm -23 clam.out accord.out | tr '\n' ' ') extra=$(comm -13 clam.out accord.out)
      found=$(wc -l < accord.out)
      # elf, swf and image: neither program opens such a test file, so all 44 are found.
      check "--scan-$kind=no: what clamscan finds (missed: $missed), more only in ${more[$kind]:-nothing} ($found found)" \
        '[[ -z $missed && $extra == "$want" && ! -s err.txt ]] && case $kind in elf | swf | image) ((found == 44)) ;; *) ((found < 44)) ;; esac'
    done
    # The kinds opened are part of the cache's fingerprint: a verdict cached without archives does
    # not answer a scan with them.
    kscan() { "$accord" scan --cache "$work/kinds.cache" --hashes clamexe.hdb "$@" "$tf/clam.zip"; }
    kscan --scan-archive=no > /dev/null
    kscan --scan-archive=no > k1.txt
    kscan > k2.txt
    check "a verdict cached with --scan-archive=no does not answer a scan with archives" \
      'grep -qx "Cached files: 1" k1.txt && grep -q "clam.zip: OK" k1.txt && grep -q "clam.zip!clam.exe: Clam.Exe.Test FOUND" k2.txt'
  fi
  # ---- --cross-fs=no: a mount point under a directory named is Excluded and not entered, as in
  # clamscan; a directory named on another file system is scanned. Needs a tmpfs mount (root).
  mkdir -p xfs/mnt/sub xfs/d
  if mount -t tmpfs accord-test xfs/mnt 2> /dev/null; then
    trap 'umount "$work/xfs/mnt" 2> /dev/null' EXIT  # however this run ends
    printf 'this is the bad file\n' > xfs/mnt/evil.bin
    mkdir -p xfs/mnt/sub && printf 'this is the bad file\n' > xfs/mnt/sub/e2.bin
    printf 'this is the bad file\n' > xfs/d/e3.bin
    for opts in --cross-fs=no --cross-fs=NO --cross-fs=0 --cross-fs=false --cross-fs=yes --cross-fs \
      '--cross-fs=no -i' '--cross-fs=no xfs/mnt' '--cross-fs=no xfs/mnt/evil.bin'; do
      # shellcheck disable=SC2086
      clamscan --no-summary -r -d filter.hdb $opts xfs 2> /dev/null | unofficial > clam.out
      # shellcheck disable=SC2086
      "$accord" scan --no-cache --no-summary -r --hashes filter.hdb $opts xfs 2> err.txt | sort > accord.out
      check "$opts: the same lines as clamscan ($(diff clam.out accord.out | head -c 300))" \
        'diff -q clam.out accord.out > /dev/null && [[ -s accord.out ]]'
    done
    "$accord" scan --no-cache -r --hashes filter.hdb --cross-fs=no --json xfs > out.txt 2> err.txt
    check "--cross-fs=no with --json: the mount point's excluded object, nothing under it" \
      'grep -q "{\"path\":\"xfs/mnt\",\"result\":\"excluded\"}" out.txt && ! grep -q "xfs/mnt/" out.txt'
    umount xfs/mnt && trap - EXIT
  else
    echo "skip: --cross-fs (no tmpfs mount here)"
  fi
fi

echo "$pass passed, $fail failed"
(( fail == 0 ))
