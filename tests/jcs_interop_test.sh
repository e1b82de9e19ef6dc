#!/usr/bin/env bash
# accord's RFC 8785 serializer (core/canonical_json.h) against the npm package `canonicalize`, the
# reference JavaScript implementation by the RFC's co-author, on a few hundred generated documents
# (unicode member names incl. astral characters and controls, nesting, integers up to 2^53-1).
# scripts/install-deps.sh installs the package into /usr/local/lib/accord-test-node; without node
# or the package the test is skipped (77).
# Usage: jcs_interop_test.sh CANONICAL_JSON_TOOL WORK_DIR
set -uo pipefail
tool=$1 work=$2
modules=${ACCORD_TEST_NODE_MODULES:-/usr/local/lib/accord-test-node/node_modules}
command -v node > /dev/null || { echo "SKIP: node missing"; exit 77; }
[ -d "$modules/canonicalize" ] || { echo "SKIP: $modules/canonicalize missing (scripts/install-deps.sh)"; exit 77; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

NODE_PATH=$modules node - <<'JS' || exit 1
const canonicalize = require('canonicalize');
const fs = require('fs');
let seed = 1;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const pool = ['a', 'b', 'z', 'A', '1', '_', '\r', '\n', '\t', '\u0001', '\u001f', '"', '\\', '/', '\u007f',
              '\u0080', '\u00f6', '\u00e9', '\u20ac', '\ufb33', '\uffff', '\ud83d\ude00', '\ud83d\ude02',
              '\ud800\udc00', '\udbff\udfff', '\u2028', '\u0000', '<', '>', '&', ' '];
const str = () => { let s = ''; for (let i = rnd(6); i > 0; --i) s += pool[rnd(pool.length)]; return s; };
const int = () => {
  const picks = [0, 1, -1, 9007199254740991, -9007199254740991, 4294967296, -123456789012];
  return rnd(2) ? picks[rnd(picks.length)] : (rnd(2) ? -1 : 1) * rnd(2147483647) * rnd(4194304);
};
const value = (depth) => {
  const t = depth > 4 ? rnd(4) : rnd(7);
  if (t === 0) return null;
  if (t === 1) return rnd(2) === 0;
  if (t === 2) return int();
  if (t === 3) return str();
  if (t === 4 || t === 5) { const o = {}; for (let i = rnd(6); i > 0; --i) o[str()] = value(depth + 1); return o; }
  const a = []; for (let i = rnd(5); i > 0; --i) a.push(value(depth + 1)); return a;
};
const docs = [], want = [];
for (let i = 0; i < 400; ++i) {
  const d = i % 4 === 0 ? value(0) : (() => { const o = {}; for (let k = rnd(8) + 1; k > 0; --k) o[str()] = value(1); return o; })();
  docs.push(JSON.stringify(d, null, i % 3 === 0 ? undefined : 0).replace(/\n/g, ''));
  want.push(canonicalize(d));
}
fs.writeFileSync('in.jsonl', docs.join('\n') + '\n');
fs.writeFileSync('want.jsonl', want.join('\n') + '\n');
JS
"$tool" < in.jsonl > got.jsonl || exit 1
if cmp -s want.jsonl got.jsonl; then
  echo "ok: $(wc -l < want.jsonl) documents canonicalize to the same bytes as the npm package canonicalize"
  exit 0
fi
echo "FAIL: accord and canonicalize differ:"
diff want.jsonl got.jsonl | head -20
exit 1
