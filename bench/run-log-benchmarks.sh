#!/usr/bin/env bash
# The log's numbers for docs/benchmarks.md, each beside its reference, in one run:
#   1. durable appends of 1 KiB entries vs writing+fsyncing the same bytes to a plain file;
#   2. proofs on a 10,000,000-entry log from tiles on disk, accord vs Go's sumdb/tlog.
# usage: bench/run-log-benchmarks.sh [WORK_DIR]   (needs ~2 GB free; builds build/ if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/accord-bench}
mkdir -p "$work"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target log_append_bench tlog_proof_benchmark >/dev/null
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(df -T "$work" | awk 'NR==2{print $2}') on $(df "$work" | awk 'NR==2{print $1}')"
echo
echo "== 1. durable appends (1,000,000 x 1 KiB)"
rm -rf "$work/append"
./build/bench/log_append_bench "$work/append" 1000000 1024
echo
echo "== 2. proofs on a 10,000,000-entry log"
ACCORD_BENCH_LOG="$work/10m" ./build/bench/tlog_proof_benchmark --benchmark_min_time=2
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/gocache" go build -o "$work/gocheck" tools/gocheck/main.go
"$work/gocheck" bench-proofs "$work/10m/log" "$work/10m/log.vkey"
