#!/usr/bin/env bash
# `accord serve --postgres` as users run it, one process: the log and its index in PostgreSQL (a
# database of its own on the test server of scripts/pg-test-server.sh), DIR/log a replica.
# Statements go in, are looked up, survive a restart, and a DIR/log that a new database lacks (a
# log moving to PostgreSQL) is copied in. Several processes: node_pg_cluster_test.sh.
# Skipped (77) without ACCORD_TEST_PG, failed instead under ACCORD_REQUIRE_PG=1.
# Usage: node_pg_cli_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
if [ -z "${ACCORD_TEST_PG:-}" ]; then
  echo "node_pg_cli_test: no PostgreSQL: set ACCORD_TEST_PG, e.g. eval \"\$(scripts/pg-test-server.sh start)\""
  [ "${ACCORD_REQUIRE_PG:-}" = 1 ] && exit 1
  exit 77
fi
source "$(dirname "$(readlink -f "$0")")/lib.sh"
db=accord_cli_$$_$RANDOM
db2=${db}_new
node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill $node_pid 2> /dev/null
  for d in $db $db2; do psql "$ACCORD_TEST_PG" -qc "DROP DATABASE IF EXISTS $d" > /dev/null 2>&1; done
}
trap cleanup EXIT
psql "$ACCORD_TEST_PG" -qv ON_ERROR_STOP=1 -c "CREATE DATABASE $db" -c "CREATE DATABASE $db2" > /dev/null || exit 1

start_node() {  # start_node DATABASE
  rm -f port
  "$accord" serve node --origin test.example/accord --listen 127.0.0.1:0 --port-file port \
    --postgres "$ACCORD_TEST_PG dbname=$1" > serve.out 2> serve.err &
  node_pid=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  port=$(cat port 2> /dev/null)
  url=http://127.0.0.1:$port
}
stop_node() { kill $node_pid; wait $node_pid 2> /dev/null; node_pid=""; }
eicar=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f

"$accord" key generate alice keys > /dev/null || exit 1
printf '%s:68:Eicar-Test-Signature\n' $eicar > eicar.hsb
start_node $db
check "serve starts with the index in PostgreSQL" "[ -n '$port' ] && grep -q '^verifier key: ' serve.out"
"$accord" submit --node "$url" --key keys/alice.key --register "Alice Lab" --country FR --contact alice@example.org \
  --hashes eicar.hsb > out 2> err
check "a registration and a hash set are logged" "grep -q 'registration.*index 0' out && grep -q 'hash-set.*index 1' out"
check "lookup by SHA-256 finds the hash set" "curl -sf $url/lookup/hash/$eicar | grep -q '\"index\":1'"
check "the index is in PostgreSQL, not beside the log" \
  "[ ! -e node/index.sqlite ] && [ \"\$(psql '$ACCORD_TEST_PG dbname=$db' -Atc 'SELECT count(*) FROM accord.statements')\" = 2 ]"
stop_node

start_node $db
check "a restart keeps the index: lookup and participants" \
  "curl -sf $url/lookup/hash/$eicar | grep -q '\"index\":1' && curl -sf $url/participants | grep -q 'Alice Lab'"
"$accord" submit --node "$url" --key keys/alice.key --register "Alice Lab" --country FR --contact alice@example.org \
  --created 2026-01-01T00:00:00Z > out 2> err
check "a second registration is refused after the restart (HTTP 409)" "grep -q 'HTTP 409' err"
stop_node

start_node $db2
check "an empty database is filled from the node's log" \
  "curl -sf $url/lookup/hash/$eicar | grep -q '\"index\":1' && [ \"\$(psql '$ACCORD_TEST_PG dbname=$db2' -Atc 'SELECT count(*) FROM accord.participants')\" = 1 ]"
stop_node

"$accord" serve node --listen 127.0.0.1:0 --postgres "$ACCORD_TEST_PG dbname=accord_no_such_db" > out 2> err
rc=$?
check "an unreachable database stops serve with PostgreSQL's reason" "[ $rc -ne 0 ] && grep -q 'does not exist' err"
finish node_pg_cli_test
