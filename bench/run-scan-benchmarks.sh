#!/usr/bin/env bash
# accord scan beside its peers, same corpus, same signatures, same run (docs/benchmarks.md):
#   1. YARA: the signature-base rules with the five external variables, accord vs `yara -r -p 2`
#      (and accord again with --scan-duplicates: every copy of the same bytes scanned, as yara
#      does; and with --max-recursion 1: the files themselves only, as yara reads them); then
#      yara and accord alternately until SCAN_BENCH_PAIRS pairs (default 3), and the median ratio;
#   2. hashes: 1,000,000 random SHA-256 .hsb signatures plus clam.exe's, accord vs clamscan;
#   3. a second accord scan of the unchanged corpus, answered by the scan cache the first wrote
#      (docs/scan-cache.md: every file, those with detections and limit notes too). The first scans
#      start without a cache: the YARA one uses none, the hash one an explicit --cache file deleted
#      before it runs.
# usage: bench/run-scan-benchmarks.sh [WORK_DIR]   (the corpus needs ~1.6 GB; built once)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:-/tmp/accord-scan-bench}
data=${ACCORD_SHARED_DATA:-$root/../shared/data}
mkdir -p "$work"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target accord >/dev/null
accord=$root/build/accord
corpus=$work/corpus
[ -d "$corpus" ] || bash "$root/../shared/bench/corpus.sh" "$corpus"
echo "corpus: $(find "$corpus" -type f | wc -l) files, $(du -sm "$corpus" | cut -f1) MB"
measure() {  # measure LABEL CMD...: wall seconds and max RSS of CMD, its stdout kept in $work/LABEL.out
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/$label.time" "$@" > "$work/$label.out" 2> "$work/$label.err" || true
  read -r secs kb < <(tail -n 1 "$work/$label.time")  # after "Command exited with ..." if any
  printf '%-34s %8.2f s %8d MB\n' "$label" "$secs" $((kb / 1024))
}
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
cat "$corpus"/lib/* > /dev/null 2>&1 || true   # warm the page cache for both alike
find "$corpus" -type f -exec cat {} + > /dev/null

echo
echo "== 1. YARA: $(find "$data/signature-base/yara" -name '*.yar' | wc -l) rule files"
ext=(-d filename= -d filepath= -d extension= -d filetype= -d owner=)
measure "yara -r -p 2" yara -r -p 2 -w "${ext[@]}" "$data"/signature-base/yara/*.yar "$corpus"
"$accord" db build -o "$work/sb.accdb" --yara "$data/signature-base/yara" >/dev/null
measure "accord scan -j 2 (yara db)" "$accord" scan --unverified -d "$work/sb.accdb" -r -j 2 -i --no-summary --no-cache "$corpus"
echo "  files with a match: yara $(awk '{print $2}' "$work/yara -r -p 2.out" | sort -u | wc -l)," \
     "accord (top-level files) $(grep -v Heuristics "$work/accord scan -j 2 (yara db).out" | sed 's/!.*//; s/: [^:]* FOUND$//' | sort -u | wc -l)"
# The same rules on every file itself: yara's "RULE PATH" against accord's "PATH: RULE FOUND" lines
# that are not inside a container (no '!') and not a heuristic note.
same=$(cmp -s <(awk '{print $2 " " $1}' "$work/yara -r -p 2.out" | sort -u) \
  <(grep -v -e Heuristics -e '!' "$work/accord scan -j 2 (yara db).out" | sed 's/: \([^ ]*\) FOUND$/ \1/' | sort -u) \
  && echo yes || echo NO)
echo "  the same rules on every file itself: $same"
# The same scan with every copy scanned: by default a file with the bytes of one scanned earlier
# in the run, and a name no rule tells apart from its name, gets its findings unscanned (the
# corpus holds 839 such files, 338 MB; docs/scan-cache.md, "Files with the same bytes").
measure "accord scan -j 2 --scan-duplicates" "$accord" scan --unverified -d "$work/sb.accdb" -r -j 2 -i --no-summary --no-cache --scan-duplicates "$corpus"
echo "  the same lines as with the memo: $(cmp -s <(sort "$work/accord scan -j 2 (yara db).out") \
  <(sort "$work/accord scan -j 2 --scan-duplicates.out") && echo yes || echo NO)"
# The same scan reading only the files themselves, as yara does (containers are not opened; each
# one is reported as Heuristics.Limits.Exceeded.MaxRecursion): how much of accord's time is the
# containers' contents, which yara never reads.
measure "accord scan -j 2 --max-recursion 1" "$accord" scan --unverified -d "$work/sb.accdb" -r -j 2 -i --no-summary --no-cache --max-recursion 1 "$corpus"
same0=$(cmp -s <(awk '{print $2 " " $1}' "$work/yara -r -p 2.out" | sort -u) \
  <(grep -v -e Heuristics -e '!' "$work/accord scan -j 2 --max-recursion 1.out" | sed 's/: \([^ ]*\) FOUND$/ \1/' | sort -u) \
  && echo yes || echo NO)
echo "  the same rules on every file itself: $same0"
# This VM's timings drift by +-15% from one minute to the next: yara and accord again, alternately,
# SCAN_BENCH_PAIRS pairs in all (the first pair above included), and the median of the ratios.
secs() { tail -n 1 "$work/$1.time" | cut -d' ' -f1; }
ratio() { awk -v a="$(secs "$1")" -v y="$(secs "$2")" 'BEGIN { printf "%.2f", a / y }'; }
ratios=("$(ratio "accord scan -j 2 (yara db)" "yara -r -p 2")")
for ((pair = 2; pair <= ${SCAN_BENCH_PAIRS:-3}; pair++)); do
  measure "yara -r -p 2 (pair $pair)" yara -r -p 2 -w "${ext[@]}" "$data"/signature-base/yara/*.yar "$corpus"
  measure "accord scan -j 2 (pair $pair)" "$accord" scan --unverified -d "$work/sb.accdb" -r -j 2 -i --no-summary \
    --no-cache "$corpus"
  ratios+=("$(ratio "accord scan -j 2 (pair $pair)" "yara -r -p 2 (pair $pair)")")
done
echo "  accord / yara, pair by pair: ${ratios[*]}; median" \
     "$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END { print r[int((NR + 1) / 2)] }')x"

echo
echo "== 2. hashes: 1,000,000 random SHA-256 + clam.exe"
python3 - "$work/random.hsb" <<'PY'
import os, sys, hashlib
with open(sys.argv[1], "w") as f:
    for i in range(1000000):
        f.write("%s:%d:Random.%d:73\n" % (os.urandom(32).hex(), 1000 + i, i))
    d = open("/usr/share/clamav-testfiles/clam.exe", "rb").read()
    f.write("%s:%d:Clam.Test.File:73\n" % (hashlib.sha256(d).hexdigest(), len(d)))
PY
"$accord" db build -o "$work/hashes.accdb" --hashes "$work/random.hsb" >/dev/null
measure "clamscan -r (1M .hsb)" clamscan --no-summary -i -d "$work/random.hsb" -r "$corpus"
# The cache records only files settled for twice the kernel's writeback window (docs/scan-cache.md):
# a corpus built just now waits until its newest file is that old.
settle=$(( 2 * ($(cat /proc/sys/vm/dirty_expire_centisecs) + $(cat /proc/sys/vm/dirty_writeback_centisecs)) / 100 + 2 ))
newest=$(find "$corpus" -printf '%C@\n' | sort -n | tail -n 1 | cut -d. -f1)
wait_s=$(( newest + settle - $(date +%s) ))
if (( wait_s > 0 )); then echo "  (waiting ${wait_s} s for the corpus to settle)"; sleep "$wait_s"; fi
rm -f "$work/scan.cache"
measure "accord scan -j 2 (1M db)" "$accord" scan --unverified -d "$work/hashes.accdb" -r -j 2 -i --no-summary \
  --cache "$work/scan.cache" "$corpus"
echo "  detections: clamscan $(grep -c FOUND "$work/clamscan -r (1M .hsb).out" || true)," \
     "accord $(grep -v Heuristics "$work/accord scan -j 2 (1M db).out" | grep -c FOUND || true)"

echo
echo "== 3. the same accord scan again (unchanged corpus and database; the cache the first wrote)"
measure "accord scan again (1M db)" "$accord" scan --unverified -d "$work/hashes.accdb" -r -j 2 -i --no-summary \
  --cache "$work/scan.cache" "$corpus"
echo "  same findings as the first: $(cmp -s <(sort "$work/accord scan -j 2 (1M db).out") \
  <(sort "$work/accord scan again (1M db).out") && echo yes || echo NO)"
first=$(tail -n 1 "$work/accord scan -j 2 (1M db).time" | cut -d' ' -f1)
again=$(tail -n 1 "$work/accord scan again (1M db).time" | cut -d' ' -f1)
echo "  rescan / first scan: $(awk -v a="$again" -v f="$first" 'BEGIN { printf "%.3fx", a / f }')" \
     "(load average $(cut -d' ' -f1-3 /proc/loadavg))"
