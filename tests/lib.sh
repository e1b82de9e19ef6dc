# Shared by the shell tests: `source "$(dirname "$0")/lib.sh"` after setting accord and work.
# Makes a fresh WORK dir and enters it; ok/bad/check count results; `finish NAME` prints the
# tally and exits non-zero if anything failed.
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
finish() { echo "$1: $pass passed, $fail failed"; [ $fail -eq 0 ]; }
