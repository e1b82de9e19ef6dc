#!/usr/bin/env bash
# A throwaway PostgreSQL server for accord's tests (pg_store_test, pg_lease_test, pg_log_test,
# node_pg_cli_test, node_pg_cluster_test): a cluster of its own in a temporary directory,
# listening on a unix socket in that directory and on a free TCP port of 127.0.0.1, with trust
# authentication and fsync off. It holds nothing worth keeping: `stop` deletes it.
#   scripts/pg-test-server.sh start   creates (first time) and starts it; prints the line below
#   scripts/pg-test-server.sh env     prints the line below if it runs (exit 1 otherwise)
#   scripts/pg-test-server.sh stop    stops it and deletes its directory
# The line printed on stdout, for `eval`:
#   export ACCORD_TEST_PG='host=DIR/sock port=PORT dbname=accord user=accord'
# The role `accord` owns the database `accord` and may create databases (tests use a schema or a
# database each, so they can run in parallel and again).
# ACCORD_PG_DURABLE=1 keeps PostgreSQL's defaults instead (fsync, synchronous commit, full page
# writes): for benchmarks, whose commits must be as durable as a real server's.
# ACCORD_PG_DIR chooses the directory (default: one per checkout, /tmp/accord-pg-<hash>); give
# each concurrent run its own. Run as root, the server runs as the `postgres` system user
# (PostgreSQL refuses root); otherwise as the calling user.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${ACCORD_PG_DIR:-/tmp/accord-pg-$(printf '%s' "$root" | cksum | cut -d' ' -f1)}
data=$dir/data sock=$dir/sock

say() { echo "pg-test-server: $*" >&2; }

bindir() {  # the newest installed PostgreSQL's programs
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  d=$(dirname "$(command -v initdb 2> /dev/null || echo /nonexistent/initdb)")
  [ -x "$d/initdb" ] || { say "no PostgreSQL server found (scripts/install-deps.sh installs postgresql)"; exit 1; }
  echo "$d"
}

as_pg() {  # runs a command as the server's owner, from a directory it may read
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

conninfo() { echo "export ACCORD_TEST_PG='host=$sock port=$(cat "$dir/port") dbname=accord user=accord'"; }

running() { [ -f "$dir/port" ] && as_pg "$bin/pg_ctl" -D "$data" status > /dev/null 2>&1; }

port_in_use() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

start() {
  if running; then conninfo; return; fi
  mkdir -p "$dir"
  chmod 0755 "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync \
      > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; say "initdb failed"; exit 1; }
    as_pg mkdir -p "$sock"
  fi
  # A free port: one nobody answers on; if the server still cannot bind it (a race), try another.
  local tries port durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${ACCORD_PG_DURABLE:-}" = 1 ] && durability=""
  for tries in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    port_in_use "$port" && continue
    if as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 start \
      -o "-p $port -k $sock -c listen_addresses=127.0.0.1 $durability -c max_connections=200" > /dev/null; then
      echo "$port" > "$dir/port"
      break
    fi
    port=""
  done
  [ -n "$port" ] || { tail -n 20 "$dir/server.log" >&2; say "the server did not start"; exit 1; }
  if ! as_pg "$bin/psql" -h "$sock" -p "$port" -U postgres -d postgres -Atqc \
    "SELECT 1 FROM pg_roles WHERE rolname = 'accord'" | grep -q 1; then
    as_pg "$bin/psql" -h "$sock" -p "$port" -U postgres -d postgres -qv ON_ERROR_STOP=1 \
      -c "CREATE ROLE accord LOGIN CREATEDB" -c "CREATE DATABASE accord OWNER accord" > /dev/null
  fi
  say "running in $dir on port $port"
  conninfo
}

stop() {
  if [ -f "$data/PG_VERSION" ]; then
    as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop > /dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

bin=""
case "${1:-}" in
  start) bin=$(bindir) && start ;;
  stop) if [ -f "$data/PG_VERSION" ]; then bin=$(bindir); fi; stop ;;
  env) bin=$(bindir) && running && conninfo ;;
  *) echo "usage: scripts/pg-test-server.sh start|stop|env" >&2; exit 2 ;;
esac
