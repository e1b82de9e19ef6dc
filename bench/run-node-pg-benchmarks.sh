#!/usr/bin/env bash
# The node on PostgreSQL (issue 4; figures in docs/benchmarks.md): statements accepted end to end
# from 32 concurrent clients by one `accord serve --postgres` process, then by two processes of
# the same log (16 clients each; one sequences, the other relays through PostgreSQL). Small hash
# sets and YARA rules, one per request, and hash sets 100 per request (NDJSON). PostgreSQL is a
# throwaway server of scripts/pg-test-server.sh with its durable defaults (fsync, synchronous
# commit: ACCORD_PG_DURABLE=1), on this machine; load from wrk, on this machine too.
#
#   bench/run-node-pg-benchmarks.sh [WORKDIR] [SECONDS]     (build/ must hold accord and node_gen)
#
# A run's rate is (statements in PostgreSQL after - before) / (time from the start of the load to
# the moment every process's replica serves a checkpoint covering them): durable (committed),
# sequenced, checkpointed.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/accord-node-pg-bench}
D=${2:-10}
ACCORD=$PWD/build/accord
GEN=$PWD/build/bench/node_gen
LUA=$PWD/bench/wrk
command -v wrk > /dev/null || { echo "wrk is missing (scripts/install-deps.sh)"; exit 2; }
[ -x "$ACCORD" ] && [ -x "$GEN" ] || { echo "build accord and node_gen first"; exit 2; }
rm -rf "$W"
mkdir -p "$W"
export ACCORD_PG_DIR=$W/pg ACCORD_PG_DURABLE=1
eval "$(bash scripts/pg-test-server.sh start 2> /dev/null)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  bash scripts/pg-test-server.sh stop > /dev/null 2>&1 || true
}
trap cleanup EXIT
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(wrk -v 2>&1 | head -1)"
echo "== PostgreSQL: $(psql "$ACCORD_TEST_PG" -Atc 'SHOW server_version'), fsync $(psql "$ACCORD_TEST_PG" -Atc 'SHOW fsync'), synchronous_commit $(psql "$ACCORD_TEST_PG" -Atc 'SHOW synchronous_commit')"

echo "== generating signed statements"
"$GEN" "$W/hash" $((D * 20000)) hash > /dev/null
"$GEN" "$W/yara" $((D * 2000)) yara > /dev/null

# start N: process N of the log in $W/nN; sets URL[N]
declare -a URL
start() {
  local n=$1
  mkdir -p "$W/n$n"
  [ "$n" != 0 ] && cp "$W/n0/node.key" "$W/n$n/node.key"
  rm -f "$W/port$n"
  "$ACCORD" serve "$W/n$n" --origin bench.example/accord --listen 127.0.0.1:0 --port-file "$W/port$n" \
    --postgres "$ACCORD_TEST_PG dbname=$DB" > "$W/serve$n.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$W/port$n" ] && break; sleep 0.1; done
  URL[$n]=http://127.0.0.1:$(cat "$W/port$n")
  for _ in $(seq 100); do curl -sf "${URL[$n]}/checkpoint" > /dev/null && break; sleep 0.1; done
}
count() { psql "$ACCORD_TEST_PG dbname=$DB" -Atc 'SELECT count(*) FROM accord.statements'; }
cp_size() { curl -sf "$1/checkpoint" | sed -n 2p; }

# run NAME BATCH FILE URL...: the FILE's lines split over the URLs, 32 connections in all
run() {
  local name=$1 batch=$2 file=$3
  shift 3
  local n=$# before t0 t1 after i
  local per=$((32 / n))
  before=$(count)
  t0=$(date +%s.%N)
  i=0
  local wpids=()
  for u in "$@"; do
    awk -v n=$n -v i=$i 'NR % n == i' "$file" > "$W/part$i"
    wrk -t1 -c"$per" -d"${D}s" --latency -s "$LUA/post_statements.lua" "$u" -- "$W/part$i" 1 "$batch" > "$W/$name.$i.wrk" &
    wpids+=($!)
    i=$((i + 1))
  done
  wait "${wpids[@]}"
  after=$(count)
  for u in "$@"; do while [ "$(cp_size "$u")" -lt "$after" ]; do sleep 0.01; done; done
  t1=$(date +%s.%N)
  awk -v n="$name" -v a="$before" -v b="$after" -v t0="$t0" -v t1="$t1" \
    'BEGIN { printf "%-44s %7d statements in %.2f s = %6.0f /s\n", n, b - a, t1 - t0, (b - a) / (t1 - t0) }'
  cat "$W/$name".*.wrk | grep -E "responses:|Non-2xx|99%" | sed 's/^/    /'
}

for procs in 1 2; do
  DB=bench_$procs
  psql "$ACCORD_TEST_PG" -qc "CREATE DATABASE $DB" > /dev/null
  rm -rf "$W"/n*
  start 0
  [ $procs = 2 ] && start 1
  urls=("${URL[@]:0:$procs}")
  for g in hash yara; do
    curl -sf -XPOST -H 'Content-Type: application/x-ndjson' --data-binary @"$W/$g/registrations.ndjson" \
      "${URL[0]}/statements" > /dev/null
  done
  echo "== $procs process(es), 32 connections, ${D} s each"
  head -n $((D * 5000)) "$W/hash/statements.ndjson" > "$W/hash1"
  tail -n +$((D * 5000 + 1)) "$W/hash/statements.ndjson" > "$W/hash100"
  run "hash-set, 1 per request ($procs proc)" 1 "$W/hash1" "${urls[@]}"
  run "hash-set, 100 per request ($procs proc)" 100 "$W/hash100" "${urls[@]}"
  run "yara-rule, 1 per request ($procs proc)" 1 "$W/yara/statements.ndjson" "${urls[@]}"
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  wait "${PIDS[@]}" 2> /dev/null || true
  PIDS=()
done
