#!/usr/bin/env bash
# Installs what the tests need, builds, and runs the whole test suite with CTest.
#   scripts/test.sh              the default build (build/)
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   scripts/test.sh --fuzz       libFuzzer targets built with clang, run briefly (build-fuzz/)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
# A throwaway PostgreSQL server for the tests that need one (scripts/pg-test-server.sh), deleted
# however the run ends; with ACCORD_REQUIRE_PG=1 those tests fail instead of skipping without it.
with_postgres() {
  ACCORD_PG_DIR=$(mktemp -d /tmp/accord-pg-XXXXXX)
  export ACCORD_PG_DIR ACCORD_REQUIRE_PG=1
  trap 'bash scripts/pg-test-server.sh stop' EXIT
  local pg_env
  pg_env=$(bash scripts/pg-test-server.sh start)
  eval "$pg_env"
}
case "${1:-}" in
  "")
    cmake -S . -B build >/dev/null
    cmake --build build -j"$jobs"
    with_postgres
    ctest --test-dir build --output-on-failure -j"$jobs" ;;
  --sanitize)
    cmake -S . -B build-asan -DACCORD_SANITIZE=ON -DACCORD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build build-asan -j"$jobs"
    with_postgres
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build-asan --output-on-failure -j"$jobs" ;;
  --fuzz)
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DACCORD_FUZZ=ON -DACCORD_SANITIZE=ON -DACCORD_BENCH=OFF >/dev/null
    cmake --build build-fuzz -j"$jobs"
    # One target per core at a time: each is one process, and a target stops at its run count
    # or its time cap (fuzz/CMakeLists.txt), whichever comes first.
    ctest --test-dir build-fuzz --output-on-failure -L fuzz -j"$jobs" ;;
  *) echo "usage: scripts/test.sh [--sanitize|--fuzz]" >&2; exit 2 ;;
esac
