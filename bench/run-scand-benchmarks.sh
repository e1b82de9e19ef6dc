#!/usr/bin/env bash
# accord scand beside Debian's clamd, same signatures, same run (docs/benchmarks.md, issue 6):
#   1. throughput: INSTREAM of 1 MB random files from 32 concurrent clients for SECONDS against each
#      daemon, over unix sockets, with 1,000,000 random SHA-256 .hsb signatures plus clam.exe's (the
#      same generator as bench/run-scan-benchmarks.sh; clamd gets the .hsb in a database directory of
#      its own, accord the same file built into an .accdb);
#   2. reload memory: RSS of each daemon before a RELOAD and its peak after, under a light load (2
#      clients, 64 KiB files, after a 10 s warm-up that touches the database as a running daemon
#      would have), with the same 1M signatures; then accord with 10,000,000 signatures.
# Neither daemon gets anything else: no freshclam, no official databases, default limits.
# usage: bench/run-scand-benchmarks.sh [WORK_DIR] [SECONDS]   (BUILD_DIR: default ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:-/tmp/accord-scand-bench}
secs=${2:-10}
build=${BUILD_DIR:-$root/build}
clam_exe=/usr/share/clamav-testfiles/clam.exe
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target accord clamd_load > /dev/null
accord=$build/accord
load=$build/bench/clamd_load
mkdir -p "$work/clamd/db" "$work/clamd/tmp"
cd "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; }
trap cleanup EXIT
wait_socket() {  # wait_socket PATH SECONDS
  for _ in $(seq $(($2 * 10))); do
    [ -S "$1" ] && return 0
    sleep 0.1
  done
  echo "no socket $1 after $2 s" >&2
  return 1
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(clamd --version)"
if [ ! -f random.hsb ]; then
  python3 - random.hsb "$clam_exe" << 'PY'
import os, sys, hashlib
with open(sys.argv[1], "w") as f:
    for i in range(1000000):
        f.write("%s:%d:Random.%d:73\n" % (os.urandom(32).hex(), 1000 + i, i))
    d = open(sys.argv[2], "rb").read()
    f.write("%s:%d:Clam.Test.File:73\n" % (hashlib.sha256(d).hexdigest(), len(d)))
PY
fi
cp random.hsb clamd/db/random.hsb
"$accord" db build -o hashes.accdb --hashes random.hsb > /dev/null
cat > clamd/clamd.conf << EOF
Foreground yes
LocalSocket $work/clamd/clamd.sock
DatabaseDirectory $work/clamd/db
TemporaryDirectory $work/clamd/tmp
LogFile $work/clamd/clamd.log
User root
EOF

start_clamd() {
  rm -f clamd/clamd.sock
  clamd --config-file="$work/clamd/clamd.conf" > clamd/clamd.out 2>&1 &
  clamd_pid=$!
  pids+=("$clamd_pid")
  wait_socket clamd/clamd.sock 120
}
start_accord() {  # start_accord DB
  rm -f scand.sock
  "$accord" scand -d "$1" --socket "$work/scand.sock" 2> scand.log &
  accord_pid=$!
  pids+=("$accord_pid")
  wait_socket scand.sock 120
}

echo
echo "== 1. INSTREAM, 1 MB random files, 32 clients, $secs s per daemon, 1,000,001 SHA-256 signatures"
start_clamd
"$load" --unix clamd/clamd.sock --clients 4 --seconds 2 > /dev/null || true  # warm-up
echo "clamd:  $("$load" --unix clamd/clamd.sock --clients 32 --seconds "$secs" --pid "$clamd_pid")"
kill "$clamd_pid"; wait "$clamd_pid" 2> /dev/null || true
start_accord hashes.accdb
"$load" --unix scand.sock --clients 4 --seconds 2 > /dev/null || true
echo "accord: $("$load" --unix scand.sock --clients 32 --seconds "$secs" --pid "$accord_pid")"
kill "$accord_pid"; wait "$accord_pid" 2> /dev/null || true

echo
echo "== 2. RELOAD under load (2 clients, 64 KiB files), memory (VmRSS) of the daemon, after 10 s of warm-up"
reload_run() {  # reload_run LABEL SOCKET PID
  "$load" --unix "$2" --clients 8 --seconds 10 --size 65536 > /dev/null || true
  echo "$1: $("$load" --unix "$2" --clients 2 --seconds 15 --size 65536 --reload-at 3 --pid "$3" | tr '\n' ' ')"
}
start_clamd
reload_run "clamd,  1,000,001 signatures" clamd/clamd.sock "$clamd_pid"
kill "$clamd_pid"; wait "$clamd_pid" 2> /dev/null || true
start_accord hashes.accdb
reload_run "accord, 1,000,001 signatures" scand.sock "$accord_pid"
grep "reloaded" scand.log | tail -n 1
kill "$accord_pid"; wait "$accord_pid" 2> /dev/null || true
[ -f big.accdb ] || "$load" --make-db 10000000 big.accdb "$clam_exe"
echo "big.accdb: $(du -m big.accdb | cut -f1) MB"
start_accord big.accdb
reload_run "accord, 10,000,001 signatures" scand.sock "$accord_pid"
grep "reloaded" scand.log | tail -n 1
kill "$accord_pid"; wait "$accord_pid" 2> /dev/null || true
