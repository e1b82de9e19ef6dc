#!/usr/bin/env bash
# accord's main job, on the embedded default (files only, no server): installs what it needs,
# builds, then shows the transparency log at work on real data — the signature-base YARA rules
# and malware hashes in ../shared/data — and leaves everything in demo-out/ to look at.
#   usage: scripts/demo.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-$root/demo-out}
data=${ACCORD_SHARED_DATA:-$root/../shared/data}

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target accord >/dev/null
accord=$root/build/accord
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { local cmd="$*"; printf "$ %s\n" "${cmd//$accord/accord}"; "$@"; }

rm -rf "$out" && mkdir -p "$out" && cd "$out"
step "1. A participant's key: Ed25519, in the C2SP signed-note format"
show "$accord" key generate node keys --key-name demo.accord.example/log

step "2. An empty log: a directory that any static web server can serve (C2SP tlog-tiles)"
show "$accord" log init log --origin demo.accord.example/log --key keys/node.key

step "3. Append: real YARA rule files (one entry each) and real malware hashes (one entry per line)"
rules=()
while IFS= read -r f; do rules+=("$f"); done < <(find "$data/signature-base/yara" -name 'apt_*.yar' -size -60k | sort | head -n 40)
printf '$ accord log append log <%d YARA files from signature-base>\n' "${#rules[@]}"
"$accord" log append log "${rules[@]}" > rule-indices
echo "indices $(head -1 rule-indices)..$(tail -1 rule-indices)"
grep -v '^#' "$data/signature-base/iocs/hash-iocs.txt" | grep -v '^\s*$' > hashes.txt
printf '$ accord log append log < hashes.txt   (%d lines)\n' "$(wc -l < hashes.txt)"
"$accord" log append log < hashes.txt > hash-indices
echo "indices $(head -1 hash-indices)..$(tail -1 hash-indices)"

step "4. The signed checkpoint that commits the log to all of it"
show "$accord" log checkpoint log

step "5. An inclusion proof for one rule file (c2sp.org/tlog-proof@v1), checked offline"
"$accord" log prove log --index 7 > rule7.tlog-proof
show cat rule7.tlog-proof
show "$accord" log verify-proof rule7.tlog-proof --vkey keys/node.vkey --entry "${rules[7]}"
echo "... and the same proof against a different file must fail:"
if "$accord" log verify-proof rule7.tlog-proof --vkey keys/node.vkey --entry "${rules[8]}"; then
  echo "demo: a proof verified for the wrong file" >&2; exit 1
fi

step "6. Append-only: the new tree is consistent with the one a client saw before"
cp log/checkpoint seen.checkpoint
printf 'a later statement\n' | "$accord" log append log >/dev/null
"$accord" log prove log --from "$(sed -n 2p seen.checkpoint)" > grow.proof
show "$accord" log verify-proof grow.proof --vkey keys/node.vkey --old-checkpoint seen.checkpoint

step "7. An auditor re-checks everything: signature, every tile, every entry"
show "$accord" log verify log --vkey keys/node.vkey

step "8. The exchange node: statements in, validated, logged, served (embedded: files + SQLite)"
"$accord" serve node --origin demo.accord.example/exchange --listen 127.0.0.1:0 --port-file node.port > node.out 2>&1 &
node_pid=$!
trap 'kill $node_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s node.port ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat node.port)
sed 's/^/  /' node.out
"$accord" key generate cert-de keys > /dev/null
"$accord" key generate vendor-jp keys > /dev/null
# signature-base's hash list as a ClamAV .hsb file (SHA-256 only, any size), names made ClamAV-safe
awk -F';' 'length($1) == 64 && k++ < 500 { n = $2; gsub(/[^A-Za-z0-9.-]+/, "-", n); print tolower($1) ":*:SigBase." substr(n, 1, 60) }' \
  hashes.txt > sigbase.hsb
show "$accord" submit --node "$url" --key keys/cert-de.key --register "Example CERT" --country DE \
  --contact cert@example.org --hashes sigbase.hsb
printf '$ accord submit --node %s --key keys/vendor-jp.key --register "Example Vendor" --country JP --yara <5 rule files>\n' "$url"
"$accord" submit --node "$url" --key keys/vendor-jp.key --register "Example Vendor" --country JP \
  $(for f in "${rules[@]:0:5}"; do printf -- '--yara %s ' "$f"; done) | sed "s|$data/||"

step "9. Refused, and nothing logged: an unregistered author; a rule name already used"
"$accord" key generate stranger keys > /dev/null
printf '$ accord submit --node %s --key keys/stranger.key --hashes sigbase.hsb\n' "$url"
"$accord" submit --node "$url" --key keys/stranger.key --hashes sigbase.hsb 2>&1 | head -1 || true
printf '$ accord submit --node %s --key keys/vendor-jp.key --yara %s\n' "$url" "${rules[0]#$data/}"
"$accord" submit --node "$url" --key keys/vendor-jp.key --yara "${rules[0]}" --created 2026-01-01T00:00:00Z 2>&1 | sed "s|$data/||" | head -1 || true

step "10. Anyone reads: who flags this file hash, who takes part, the log itself"
h=$(head -1 sigbase.hsb | cut -d: -f1)
printf '$ curl %s/lookup/hash/%s\n' "$url" "$h"
curl -sf "$url/lookup/hash/$h" | python3 -c 'import json,sys; [print("  index", s["index"], s["kind"], "by", s["author"][:12] + "...", "created", s["created"]) for s in json.load(sys.stdin)["statements"]]'
printf '$ curl %s/participants\n' "$url"
curl -sf "$url/participants" | python3 -c 'import json,sys; [print("  %s (%s), registered at index %d" % (p["name"], p["country"], p["index"])) for p in json.load(sys.stdin)["participants"]]'
printf '$ curl %s/checkpoint\n' "$url"
curl -sf "$url/checkpoint" | sed 's/^/  /'
kill $node_pid; wait $node_pid 2>/dev/null || true
show "$accord" log verify node/log --vkey node/node.vkey

step "Where to look next"
cat <<MSG
  $out/log/              the log as served: checkpoint, tile/<L>/..., tile/entries/...
  $out/keys/node.vkey    the verifier key that anyone needs to check it
  $out/node/             the exchange node: its log (node/log), key and SQLite index
  docs/node.md           the node's HTTP API; docs/statement-format.md the signed statements
  docs/log-format.md     the formats as grammars; docs/benchmarks.md for the numbers
  accord log --help      every log command; accord serve --help, accord submit --help
MSG
