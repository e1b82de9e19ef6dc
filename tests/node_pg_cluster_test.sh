#!/usr/bin/env bash
# Two `accord serve` processes on one PostgreSQL log (docs/node.md, "PostgreSQL"), as an operator
# runs them: both take submissions and serve the same checkpoint; each replica verifies; the
# sequencing process is killed (kill -9) while submissions are in flight, the other takes over,
# and every acknowledged statement is in the log, at its index, with the same bytes, the indices
# consecutive. Skipped (77) without ACCORD_TEST_PG, failed instead under ACCORD_REQUIRE_PG=1.
# Usage: node_pg_cluster_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
if [ -z "${ACCORD_TEST_PG:-}" ]; then
  echo "node_pg_cluster_test: no PostgreSQL: set ACCORD_TEST_PG, e.g. eval \"\$(scripts/pg-test-server.sh start)\""
  [ "${ACCORD_REQUIRE_PG:-}" = 1 ] && exit 1
  exit 77
fi
source "$(dirname "$(readlink -f "$0")")/lib.sh"
db=accord_cluster_$$_$RANDOM
conn="$ACCORD_TEST_PG dbname=$db"
declare -a pid url
cleanup() {
  for p in "${pid[@]}"; do [ -n "$p" ] && kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done
  psql "$ACCORD_TEST_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" > /dev/null 2>&1
}
trap cleanup EXIT
psql "$ACCORD_TEST_PG" -qv ON_ERROR_STOP=1 -c "CREATE DATABASE $db" > /dev/null || exit 1
sql() { psql "$conn" -Atc "$1"; }

start_node() {  # start_node N: process N in directory nN, on a port of its own
  rm -f port$1
  "$accord" serve n$1 --origin test.example/accord --listen 127.0.0.1:0 --port-file port$1 \
    --postgres "$conn" --lease-ms 1500 > serve$1.out 2> serve$1.err &
  pid[$1]=$!
  for _ in $(seq 100); do [ -s port$1 ] && break; sleep 0.1; done
  url[$1]=http://127.0.0.1:$(cat port$1 2> /dev/null)
}
sequencer_pid() { sql "SELECT split_part(holder, ':', 2) FROM accord.leases WHERE name = 'sequencer' AND expires_at > now()"; }
same_checkpoint() {  # same_checkpoint N M SIZE: both serve the checkpoint of SIZE entries, byte for byte
  for _ in $(seq 50); do
    curl -sf "${url[$1]}/checkpoint" > cp$1 && curl -sf "${url[$2]}/checkpoint" > cp$2 &&
      [ "$(sed -n 2p cp$1)" = "$3" ] && cmp -s cp$1 cp$2 && return 0
    sleep 0.1
  done
  return 1
}
hashes() {  # hashes NAME: a hash-set file of one signature nobody else uses
  printf '%s:68:%s\n' "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)" "$1" > "$1.hsb"
}
created=2026-01-01T00:00:00Z

"$accord" key generate alice keys > /dev/null || exit 1
start_node 0
mkdir -p n1 && cp n0/node.key n1/node.key # every process of the log signs with the same key
start_node 1
check "two processes start on one PostgreSQL log" \
  "grep -q '^verifier key: ' serve0.out && grep -q '^verifier key: ' serve1.out && cmp -s n0/node.vkey n1/node.vkey"

"$accord" submit --node "${url[1]}" --key keys/alice.key --register "Alice Lab" --country FR > out 2> err
check "a registration through process 1 is logged at 0" "grep -q 'registration.*index 0' out"
hashes first && "$accord" submit --node "${url[0]}" --key keys/alice.key --hashes first.hsb > out 2> err
check "a hash set through process 0 is logged at 1" "grep -q 'hash-set.*index 1' out"
"$accord" submit --node "${url[0]}" --key keys/alice.key --register "Alice Lab" --country FR \
  --created $created > out 2> err
check "a second registration is refused by either process (HTTP 409)" "grep -q 'HTTP 409' err"
check "both serve the same signed checkpoint" "same_checkpoint 0 1 2"
check "both answer lookups" "curl -sf ${url[0]}/statements/1 | grep -q first && curl -sf ${url[1]}/participants | grep -q 'Alice Lab'"
check "a replica verifies as an auditor checks it" "'$accord' log verify n1/log --vkey n1/node.vkey > /dev/null"

# Statements in flight through both processes while the sequencer is killed.
leader=$(sequencer_pid)
if [ "$leader" = "${pid[0]}" ]; then seq=0 other=1; else seq=1 other=0; fi
check "one of them sequences" "[ '$leader' = '${pid[$seq]}' ]"
epoch_before=$(sql "SELECT epoch FROM accord.leases WHERE name = 'sequencer'")
# Each worker's statements, signed beforehand (the same bytes as submitted: --created is fixed);
# line K of leavesN is the leaf of wN-K.
for n in 0 1; do
  args=()
  for k in $(seq 25); do hashes w$n-$k && args+=(--hashes w$n-$k.hsb); done
  "$accord" submit --dry-run --key keys/alice.key "${args[@]}" --created $created > leaves$n || exit 1
done
worker() {  # worker N K: K statements through process N; acknowledged ones go to ackedN as "INDEX NAME"
  for k in $(seq "$2"); do
    name=w$1-$k
    if "$accord" submit --node "${url[$1]}" --key keys/alice.key --hashes "$name.hsb" --created $created \
      > "$name.out" 2> "$name.err"; then
      echo "$(grep -o 'index [0-9]*' "$name.out" | cut -d' ' -f2) $name" >> acked$1
    fi
  done
}
: > acked0 && : > acked1
worker $other 25 &
w_other=$!
worker $seq 25 &
w_seq=$!
for _ in $(seq 50); do [ "$(wc -l < acked$other)" -ge 5 ] && break; sleep 0.1; done
kill -9 "${pid[$seq]}"
killed_at=$(wc -l < acked$other)
wait "${pid[$seq]}" 2> /dev/null
pid[$seq]=""
wait $w_other $w_seq
echo "acknowledged: $(wc -l < acked$other) through the survivor ($killed_at before the kill), $(wc -l < acked$seq) through the killed one"

check "the other process takes the lease with a new epoch" \
  "[ \"\$(sequencer_pid)\" = '${pid[$other]}' ] && [ \"\$(sql \"SELECT epoch FROM accord.leases WHERE name = 'sequencer'\")\" -gt $epoch_before ]"
check "submissions through the survivor go on after the kill" "[ \$(wc -l < acked$other) -gt $killed_at ] && [ \$(wc -l < acked$other) -eq 25 ]"
cat acked0 acked1 > acked
size=$(sql "SELECT count(*) FROM accord.statements")
check "the log's indices are consecutive" "[ \"\$(sql 'SELECT max(idx) + 1 FROM accord.statements')\" = $size ]"
check "no index was acknowledged twice" "[ -z \"\$(cut -d' ' -f1 acked | sort | uniq -d)\" ]"
# What the survivor serves: every statement's index and id (the SHA-256 of its bytes).
cat > compare.py << 'EOF'
import base64, hashlib, json, sys, urllib.request
url = sys.argv[1]
get = lambda path: json.load(urllib.request.urlopen(url + path))
key = get("/participants")["participants"][0]["key"]
key = base64.urlsafe_b64encode(base64.b64decode(key.replace("-", "+").replace("_", "/") + "==")).decode().rstrip("=")
served = {s["index"]: s["id"] for s in get("/lookup/author/" + key + "?limit=1000")["statements"]}
lost = 0
for line in open("acked"):
    index, name = line.split()
    n, k = name[1:].split("-")
    leaf = open("leaves" + n, "rb").read().split(b"\n")[int(k) - 1]
    if served.get(int(index)) != hashlib.sha256(leaf).hexdigest():
        lost += 1
        print("index %s: not %s" % (index, name))
sys.exit(1 if lost else 0)
EOF
check "every acknowledged statement is at its index with the same bytes ($(wc -l < acked) of them)" \
  "python3 compare.py ${url[$other]}"
check "the survivor's replica holds the whole log and verifies" \
  "[ \"\$(curl -sf ${url[$other]}/checkpoint | sed -n 2p)\" = $size ] && '$accord' log verify n$other/log --vkey n$other/node.vkey > /dev/null"

start_node $seq
check "the killed process restarts, catches up and serves the same checkpoint" "same_checkpoint $seq $other $size"
finish node_pg_cluster_test
