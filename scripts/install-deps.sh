#!/usr/bin/env bash
# Installs every Debian 12 package that accord's build, tests, fuzzers, benchmarks and main job
# need. Idempotent; needs root (or sudo). Nothing is downloaded at build or run time.
set -euo pipefail
packages=(
  # build
  build-essential cmake pkg-config ccache
  # libraries
  libsodium-dev libssl-dev nlohmann-json3-dev libcli11-dev
  # the scanner: YARA rules, containers
  libyara-dev libhyperscan-dev libarchive-dev zlib1g-dev libmspack-dev libucl-dev liblzma-dev
  # tests, benchmarks, fuzzing
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  # the peers the scanner is checked and measured against, and ClamAV's test files
  yara clamav clamav-testfiles zip
  # independent writers and readers of the archive formats accord decodes itself: 7-Zip (deflate64
  # zips), Info-ZIP's unzip (implode), ARJ, NSIS (makensis)
  7zip unzip arj nsis
  # clamd's real clients, which `accord scand` is tested with, and clamd, which it is measured against
  clamav-daemon clamdscan python3-pyclamd
  # TLSH fuzzy signatures (libtlsh), and Debian's `tlsh` tool that their digests are checked against
  libtlsh-dev tlsh-tools
  # the independent implementation the log is checked against (Go's sumdb/note and sumdb/tlog)
  golang-go golang-golang-x-mod-dev
  # the exchange node: SQLite index, HTTP(S) server and client; curl, openssl and wrk for its tests
  # and benchmarks; python3-jsonschema checks accord's STIX against the official schemas
  libsqlite3-dev libcpp-httplib-dev libboost1.81-dev curl openssl wrk python3-jsonschema
  # the node's PostgreSQL index and lease (libpq), and the throwaway server its tests run against
  # (scripts/pg-test-server.sh)
  postgresql libpq-dev
  # node, for the npm package `canonicalize` that accord's RFC 8785 JSON is checked against
  nodejs
)
# The reference JCS implementation (tests/jcs_interop_test.sh), outside the repository.
node_test_deps() {
  local prefix=/usr/local/lib/accord-test-node s=""
  [ "$(id -u)" -eq 0 ] || s="sudo"
  [ -d "$prefix/node_modules/canonicalize" ] && return 0
  command -v npm > /dev/null || { echo "install-deps: npm missing: jcs_interop_test will be skipped"; return 0; }
  $s npm install --prefix "$prefix" canonicalize@2 || echo "install-deps: npm install failed: jcs_interop_test will be skipped"
}
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  node_test_deps
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
node_test_deps
