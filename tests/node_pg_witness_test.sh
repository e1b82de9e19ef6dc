#!/usr/bin/env bash
# Witnesses with two `accord serve --postgres` processes of one log (docs/node.md, "Limits of the
# PostgreSQL mode"): each process has a real witness (`accord witness serve`) cosign its replica's
# checkpoints and publishes them; a client's `accord update` with a policy that needs the witness
# accepts either process; the sequencer is killed and the other process's checkpoints go on being
# cosigned; TAXII tokens kept in PostgreSQL act on both processes. Skipped (77) without ACCORD_TEST_PG, failed instead under ACCORD_REQUIRE_PG=1.
# Usage: node_pg_witness_test.sh ACCORD_BIN WORK_DIR
set -uo pipefail
accord=$1 work=$2
if [ -z "${ACCORD_TEST_PG:-}" ]; then
  echo "node_pg_witness_test: no PostgreSQL: set ACCORD_TEST_PG, e.g. eval \"\$(scripts/pg-test-server.sh start)\""
  [ "${ACCORD_REQUIRE_PG:-}" = 1 ] && exit 1
  exit 77
fi
source "$(dirname "$(readlink -f "$0")")/lib.sh"
db=accord_pgwit_$$_$RANDOM
conn="$ACCORD_TEST_PG dbname=$db"
declare -a pid url
wpid=""
cleanup() {
  for p in "${pid[@]}" $wpid; do [ -n "$p" ] && kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done
  psql "$ACCORD_TEST_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" > /dev/null 2>&1
}
trap cleanup EXIT
psql "$ACCORD_TEST_PG" -qv ON_ERROR_STOP=1 -c "CREATE DATABASE $db" > /dev/null || exit 1
sql() { psql "$conn" -Atc "$1"; }

start_node() {  # start_node N [args]: process N in directory nN
  local n=$1
  shift
  rm -f port$n
  "$accord" serve n$n --origin test.example/accord --listen 127.0.0.1:0 --port-file port$n \
    --postgres "$conn" --lease-ms 1500 "$@" > serve$n.out 2> serve$n.err &
  pid[$n]=$!
  for _ in $(seq 100); do [ -s port$n ] && break; sleep 0.1; done
  url[$n]=http://127.0.0.1:$(cat port$n 2> /dev/null)
}
cosigned() {  # cosigned N SIZE: process N serves a checkpoint of SIZE cosigned by w1 (within 15 s)
  for _ in $(seq 150); do
    curl -sf "${url[$1]}/checkpoint" > cp$1 && [ "$(sed -n 2p cp$1)" = "$2" ] && grep -q '^— w1 ' cp$1 && return 0
    sleep 0.1
  done
  return 1
}
hashes() { printf '%s:68:%s\n' "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)" "$1" > "$1.hsb"; }

"$accord" key generate alice keys > /dev/null && "$accord" key generate --cosigner w1 keys > /dev/null || exit 1
start_node 0 && kill ${pid[0]} && wait ${pid[0]} 2> /dev/null  # creates the log and its key
mkdir -p n1 && cp n0/node.key n1/node.key
"$accord" witness serve w1-state --key keys/w1.key --log n0/node.vkey --listen 127.0.0.1:0 --port-file w1.port \
  > w1.out 2> w1.err &
wpid=$!
for _ in $(seq 100); do [ -s w1.port ] && break; sleep 0.1; done
wurl=http://127.0.0.1:$(cat w1.port)
start_node 0 --witness "keys/w1.vkey@$wurl" --witness-timeout 1000
start_node 1 --witness "keys/w1.vkey@$wurl" --witness-timeout 1000
check "two processes start with a witness on one PostgreSQL log" \
  "grep -q '^verifier key: ' serve0.out && grep -q '^verifier key: ' serve1.out"

"$accord" submit --node "${url[0]}" --key keys/alice.key --register "Alice Lab" --country FR > out 2> err
hashes one && "$accord" submit --node "${url[1]}" --key keys/alice.key --hashes one.hsb >> out 2>> err
check "statements through both are logged" "grep -q 'index 0' out && grep -q 'index 1' out"
check "process 0 serves the checkpoint of 2, cosigned by the witness" "cosigned 0 2"
check "process 1 too" "cosigned 1 2"
check "the same tree: both checkpoints have the same signed body" \
  "[ \"\$(sed -n 2p cp0)\" = 2 ] && [ \"\$(sed -n 1,3p cp0)\" = \"\$(sed -n 1,3p cp1)\" ]"

printf 'log %s\nwitness w1 %s\nquorum w1\n' "$(cat n0/node.vkey)" "$(cat keys/w1.vkey)" > policy
for n in 0 1; do
  rm -rf db$n && "$accord" update --policy policy --from "${url[$n]}" -d db$n > out 2> err
  check "update from process $n meets the witness quorum" "[ \$? -eq 0 ] && grep -q '0 -> 2 entries, cosigned by w1' out"
done

# TAXII tokens live in PostgreSQL: issued once, honoured and revoked by every process at once.
alice=$(curl -sf "${url[0]}/participants" | python3 -c 'import json,sys; print(json.load(sys.stdin)["participants"][0]["key"])')
token=$("$accord" taxii-token add n0 --postgres "$conn" --author "$alice" --label alice-lab 2> err)
check "a TAXII token issued into PostgreSQL (no token file)" "[[ '$token' == accord_* ]] && [ ! -e n0/taxii-tokens ] && '$accord' taxii-token list n1 --postgres '$conn' | grep -q alice-lab"
"$accord" taxii-token add n0 --postgres "$conn" --postgres-schema acord --author "$alice" --label typo > out 2> err
rc=$?
check "taxii-token refuses a schema that holds no log (exit 2) and creates none" \
  "[ $rc -eq 2 ] && [ ! -s out ] && grep -q 'schema \"acord\" holds no accord log' err && [ \"\$(sql \"SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'acord'\")\" = 0 ]"
coll=$(python3 -c "import uuid; print(uuid.uuid5(uuid.UUID('6022a5e9-177a-448a-a558-804e182b0156'), 'collection:participant:$alice'))")
T='application/taxii+json;version=2.1'
printf '{"objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","created":"2026-11-28T10:00:00.000Z","modified":"2026-11-28T10:00:00.000Z","valid_from":"2026-11-28T10:00:00Z","pattern_type":"stix","pattern":"[file:name = %s]","object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}]}' "'x.exe'" > env.json
code=$(curl -s -o body -w '%{http_code}' -X POST -H "Content-Type: $T" -H "Authorization: Bearer $token" --data-binary @env.json "${url[1]}/taxii2/api/collections/$coll/objects/")
check "process 1 takes a POST with it: logged at 2" "[ $code = 202 ] && grep -q 'logged at index 2' body"
sid=$(python3 -c 'import json; print(json.load(open("body"))["id"])')
check "process 0 gives the poster that POST's status resource (kept in PostgreSQL)" \
  "curl -sf -H 'Accept: $T' -H 'Authorization: Bearer $token' '${url[0]}/taxii2/api/status/$sid/' | cmp -s - body"
"$accord" taxii-token revoke n1 --postgres "$conn" --author "$alice" > out
code=$(curl -s -o body -w '%{http_code}' -X POST -H "Content-Type: $T" -H "Authorization: Bearer $token" --data-binary @env.json "${url[0]}/taxii2/api/collections/$coll/objects/")
check "revoked in PostgreSQL, refused by the other process at once (401)" "grep -q 'revoked 1' out && [ $code = 401 ]"

# The sequencer dies; the other process takes over, and its checkpoints are cosigned.
leader=$(sql "SELECT split_part(holder, ':', 2) FROM accord.leases WHERE name = 'sequencer' AND expires_at > now()")
if [ "$leader" = "${pid[0]}" ]; then seq=0 other=1; else seq=1 other=0; fi
kill -9 ${pid[$seq]} && wait ${pid[$seq]} 2> /dev/null
pid[$seq]=""
hashes two && "$accord" submit --node "${url[$other]}" --key keys/alice.key --hashes two.hsb > out 2> err
check "after the sequencer died, the other process logs at 3" "grep -q 'index 3' out"
check "... and serves the checkpoint of 4, cosigned" "cosigned $other 4"
"$accord" update --policy policy --from "${url[$other]}" -d db$other > out 2> err
check "a client follows it: 2 -> 4 entries, cosigned" "[ \$? -eq 0 ] && grep -q '2 -> 4 entries, cosigned by w1' out"
check "the witness logged no refusal of a fork" "! grep -qi 'inconsistent\\|fork' w1.err"
finish node_pg_witness_test
