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

step "Where to look next"
cat <<MSG
  $out/log/              the log as served: checkpoint, tile/<L>/..., tile/entries/...
  $out/keys/node.vkey    the verifier key that anyone needs to check it
  docs/log-format.md     the formats as grammars; docs/benchmarks.md for the numbers
  accord log --help      every log command
MSG
