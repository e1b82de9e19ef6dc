#!/usr/bin/env bash
# The node's numbers (issue 4; figures in docs/benchmarks.md): statements accepted end to end
# (durable, integrated, checkpointed) from 32 concurrent clients, small hash sets and YARA rules,
# one statement per request and NDJSON batches; the read path (checkpoint, tiles, entry
# bundles) and TAXII GETs of 100 objects at 64 connections. Load comes from wrk, on this machine.
#
#   bench/run-node-benchmarks.sh [WORKDIR] [SECONDS]     (build/ must hold accord and node_gen)
#
# A submission run's rate is (checkpoint size after - before) / (time from the start of the load
# to the checkpoint that covers every acknowledged statement): what a client can count on.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/accord-node-bench}
D=${2:-10}
ACCORD=${ACCORD:-$PWD/build/accord}  # another build to compare: ACCORD=/path/to/accord
GEN=$PWD/build/bench/node_gen
LUA=$PWD/bench/wrk
command -v wrk > /dev/null || { echo "wrk is missing (scripts/install-deps.sh)"; exit 2; }
[ -x "$ACCORD" ] && [ -x "$GEN" ] || { echo "build accord and node_gen first"; exit 2; }
rm -rf "$W"
mkdir -p "$W"
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(wrk -v 2>&1 | head -1)"

if [ -x "$PWD/build/bench/statement_bench" ]; then
  echo "== the node's own work per statement before the log, one thread (bench/statement_bench.cc)"
  "$PWD/build/bench/statement_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>&1 |
    grep -E "_median" | sed 's/^/    /'
fi

echo "== generating signed statements"
"$GEN" "$W/hash" $((D * 30000)) hash
"$GEN" "$W/yara" $((D * 3000)) yara
sync  # the generator's files written out now, not during the node's first fsyncs

PORT=18$((RANDOM % 900 + 100))
URL=http://127.0.0.1:$PORT
"$ACCORD" serve "$W/node" --origin bench.example/accord --listen 127.0.0.1:$PORT > "$W/serve.log" 2>&1 &
NODE_PID=$!
trap 'kill $NODE_PID 2> /dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "$URL/checkpoint" > /dev/null && break; sleep 0.1; done
for g in hash yara; do
  curl -sf -XPOST -H 'Content-Type: application/x-ndjson' --data-binary @"$W/$g/registrations.ndjson" \
    "$URL/statements" > /dev/null
done

cp_size() { curl -sf "$URL/checkpoint" | sed -n 2p; }
metric() { curl -sf "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# submit NAME FILE BATCH CONNECTIONS
submit() {
  local name=$1 file=$2 batch=$3 conns=$4
  local before t0 t1 after acked refused0 refused1
  before=$(cp_size)
  refused0=$(metric accord_statements_refused_total)
  t0=$(date +%s.%N)
  wrk -t2 -c"$conns" -d"${D}s" --latency -s "$LUA/post_statements.lua" "$URL" -- "$file" 2 "$batch" > "$W/$name.wrk"
  # Every statement this node accepted (registrations included) is in the log: the checkpoint
  # that covers them all covers everything acknowledged.
  acked=$(metric accord_statements_accepted_total)
  while [ "$(cp_size)" -lt "$acked" ]; do sleep 0.01; done
  t1=$(date +%s.%N)
  after=$(cp_size)
  refused1=$(metric accord_statements_refused_total)
  awk -v n="$name" -v a="$before" -v b="$after" -v t0="$t0" -v t1="$t1" -v r=$((refused1 - refused0)) \
    'BEGIN { printf "%-28s %8d statements in %.2f s = %7.0f /s checkpointed (%d refused)\n", n, b - a, t1 - t0, (b - a) / (t1 - t0), r }'
  grep -E "responses:|Non-2xx|99%" "$W/$name.wrk" | sed 's/^/    /'
}

echo "== submissions, 32 connections, ${D} s each"
submit "hash-set, 1 per request" "$W/hash/statements.ndjson" 1 32
tail -n +$((D * 15000)) "$W/hash/statements.ndjson" > "$W/hash/rest.ndjson"
submit "hash-set, 100 per request" "$W/hash/rest.ndjson" 100 32
submit "yara-rule, 1 per request" "$W/yara/statements.ndjson" 1 32
tail -n +$((D * 1500)) "$W/yara/statements.ndjson" > "$W/yara/rest.ndjson"
submit "yara-rule, 20 per request" "$W/yara/rest.ndjson" 20 32

echo "== read path, 64 connections, ${D} s"
(cd "$W/node/log" && { echo /checkpoint; find tile -type f | sed 's|^|/|'; }) > "$W/read-paths"
echo "    $(wc -l < "$W/read-paths") paths (checkpoint, tiles, entry bundles)"
wrk -t2 -c64 -d"${D}s" --latency -s "$LUA/get_paths.lua" "$URL" -- "$W/read-paths" > "$W/read.wrk"
grep -E "Requests/sec|non-200|99%|Transfer" "$W/read.wrk" | sed 's/^/    /'
(cd "$W/node/log" && { echo /checkpoint; find tile -path '*/0/*' -type f -size -9k | sed 's|^|/|'; }) > "$W/tile-paths"
echo "    hash tiles and checkpoint only: $(wc -l < "$W/tile-paths") paths"
wrk -t2 -c64 -d"${D}s" --latency -s "$LUA/get_paths.lua" "$URL" -- "$W/tile-paths" > "$W/tiles.wrk"
grep -E "Requests/sec|non-200|99%" "$W/tiles.wrk" | sed 's/^/    /'

if curl -sf -H 'Accept: application/taxii+json;version=2.1' "$URL/taxii2/" > /dev/null; then
  echo "== TAXII 2.1: GET 100 objects, 64 connections, ${D} s"
  COLL=$(curl -sf -H 'Accept: application/taxii+json;version=2.1' "$URL/taxii2/api/collections/" |
    python3 -c 'import json,sys; c=json.load(sys.stdin)["collections"]; print([x["id"] for x in c if x.get("alias") == "all"][0])')
  SIZE=$(cp_size)
  # 200 pages spread over the whole log (cold: most must be rendered from the index), then 200
  # pages among the newest 20,000 statements (what pollers with added_after read).
  for i in $(seq 0 199); do
    echo "/taxii2/api/collections/$COLL/objects/?limit=100&next=$(( (i * 7919) % (SIZE - 200) )).0"
  done > "$W/taxii-paths"
  for i in $(seq 0 199); do
    echo "/taxii2/api/collections/$COLL/objects/?limit=100&next=$(( SIZE - 20000 + (i * 7919) % 19800 )).0"
  done > "$W/taxii-recent-paths"
  curl -s -H 'Accept: application/taxii+json;version=2.1' "$URL$(head -1 "$W/taxii-paths")" |
    python3 -c 'import json,sys; e=json.load(sys.stdin); print("    one page:", len(e.get("objects",[])), "objects")'
  for set in taxii taxii-recent; do
    wrk -t2 -c64 -d"${D}s" --latency -s "$LUA/get_paths.lua" "$URL" -- "$W/$set-paths" \
      'application/taxii+json;version=2.1' > "$W/$set.wrk"
    echo "    $set pages:"
    grep -E "Requests/sec|non-200|99%|Latency  " "$W/$set.wrk" | sed 's/^/      /'
  done
fi
echo "== node memory: $(ps -o rss= -p $NODE_PID | awk '{printf "%.0f MB RSS", $1/1024}'), log $(du -sh "$W/node/log" | cut -f1), index $(du -sh "$W/node/index.sqlite" | cut -f1)"
