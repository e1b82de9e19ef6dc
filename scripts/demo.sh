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

step "8. Two witnesses, and the exchange node that asks them to cosign every checkpoint"
# The node's key first (accord serve would make one), so that the witnesses can follow its log.
"$accord" key generate node node --key-name demo.accord.example/exchange > /dev/null
"$accord" key generate witness-fr keys --cosigner > /dev/null
"$accord" key generate witness-br keys --cosigner > /dev/null
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for w in witness-fr witness-br; do
  "$accord" witness serve "$w" --key "keys/$w.key" --log node/node.vkey --listen 127.0.0.1:0 \
    --port-file "$w.port" > "$w.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$w.port" ] && break; sleep 0.1; done
  sed 's/^/  /' "$w.out"
done
"$accord" serve node --origin demo.accord.example/exchange --listen 127.0.0.1:0 --port-file node.port \
  --witness "keys/witness-fr.vkey@http://127.0.0.1:$(cat witness-fr.port)" \
  --witness "keys/witness-br.vkey@http://127.0.0.1:$(cat witness-br.port)" > node.out 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s node.port ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat node.port)
sed 's/^/  /' node.out

step "9. Participants publish: statements in, validated, logged, served (embedded: files + SQLite)"
"$accord" key generate cert-de keys > /dev/null
"$accord" key generate vendor-jp keys > /dev/null
# signature-base's hash list as a ClamAV .hsb file (SHA-256 only, any size), names made ClamAV-safe,
# and the EICAR test file, so that the scan below has something to find
awk -F';' 'length($1) == 64 && k++ < 500 { n = $2; gsub(/[^A-Za-z0-9.-]+/, "-", n); print tolower($1) ":*:SigBase." substr(n, 1, 60) }' \
  hashes.txt > sigbase.hsb
echo "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:68:Eicar-Test-Signature" >> sigbase.hsb
show "$accord" submit --node "$url" --key keys/cert-de.key --register "Example CERT" --country DE \
  --contact cert@example.org --hashes sigbase.hsb
printf 'rule Demo_Dropper_Marker {\n  meta:\n    description = "the demo sample'"'"'s marker"\n  strings:\n    $a = "accord-demo-dropper"\n  condition:\n    $a\n}\n' > demo.yar
printf '$ accord submit --node %s --key keys/vendor-jp.key --register "Example Vendor" --country JP --yara <5 rule files> --yara demo.yar\n' "$url"
"$accord" submit --node "$url" --key keys/vendor-jp.key --register "Example Vendor" --country JP \
  $(for f in "${rules[@]:0:5}"; do printf -- '--yara %s ' "$f"; done) --yara demo.yar | sed "s|$data/||"

step "10. Refused, and nothing logged: an unregistered author; a rule name already used"
"$accord" key generate stranger keys > /dev/null
printf '$ accord submit --node %s --key keys/stranger.key --hashes sigbase.hsb\n' "$url"
"$accord" submit --node "$url" --key keys/stranger.key --hashes sigbase.hsb 2>&1 | head -1 || true
printf '$ accord submit --node %s --key keys/vendor-jp.key --yara %s\n' "$url" "${rules[0]#$data/}"
"$accord" submit --node "$url" --key keys/vendor-jp.key --yara "${rules[0]}" --created 2026-01-01T00:00:00Z 2>&1 | sed "s|$data/||" | head -1 || true

step "11. Anyone reads: who flags this file hash, who takes part, the cosigned checkpoint"
h=$(head -1 sigbase.hsb | cut -d: -f1)
printf '$ curl %s/lookup/hash/%s\n' "$url" "$h"
curl -sf "$url/lookup/hash/$h" | python3 -c 'import json,sys; [print("  index", s["index"], s["kind"], "by", s["author"][:12] + "...", "created", s["created"]) for s in json.load(sys.stdin)["statements"]]'
printf '$ curl %s/participants\n' "$url"
curl -sf "$url/participants" | python3 -c 'import json,sys; [print("  %s (%s), registered at index %d" % (p["name"], p["country"], p["index"])) for p in json.load(sys.stdin)["participants"]]'
for _ in $(seq 50); do  # the witnesses' cosignatures follow the node's own within a moment
  curl -sf "$url/checkpoint" > cosigned.checkpoint
  [ "$(grep -c '^— witness-' cosigned.checkpoint)" = 2 ] && [ "$(sed -n 2p cosigned.checkpoint)" = 10 ] && break
  sleep 0.1
done
printf '$ curl %s/checkpoint\n' "$url"
sed 's/^/  /' cosigned.checkpoint

step "12. A scanner trusts a quorum, not the node: policy, verified update, scan with citations"
{
  echo "# the exchange's log, and two witnesses in two countries: both must cosign"
  echo "log $(cat node/node.vkey) $url"
  grep -h '^witness' witness-fr.out witness-br.out
  echo "group both all witness-fr witness-br"
  echo "quorum both"
} > scanner.policy
show cat scanner.policy
show "$accord" update --policy scanner.policy -d scanner-db
mkdir -p samples
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > samples/eicar.com
printf 'a harmless file carrying the accord-demo-dropper marker\n' > samples/dropper.txt
cp "$root/README.md" samples/readme.md
show "$accord" scan -d scanner-db --policy scanner.policy --no-cache -r samples || true
echo "... and a database that no verified update built is refused:"
"$accord" db build -o local.accdb --hashes sigbase.hsb > /dev/null
printf '$ accord scan -d local.accdb samples\n'
"$accord" scan -d local.accdb --no-cache samples 2>&1 | sed 's/^/  /' || true

step "13. Evidence: a detection anyone can check offline, with nothing but their own policy"
show "$accord" evidence samples/dropper.txt -d scanner-db -o dropper.evidence.json
kill "${pids[@]}"; wait 2>/dev/null || true
echo "(the node and the witnesses are stopped: what follows is offline)"
show "$accord" evidence verify dropper.evidence.json --policy scanner.policy --file samples/dropper.txt
echo "... and evidence whose statement was altered by one byte is refused:"
sed 's/accord-demo-dropper/accord-demo-dropp3r/' dropper.evidence.json > altered.evidence.json
printf '$ accord evidence verify altered.evidence.json --policy scanner.policy\n'
if "$accord" evidence verify altered.evidence.json --policy scanner.policy > altered.out 2>&1; then
  echo "demo: altered evidence verified" >&2; exit 1
fi
sed 's/^/  /' altered.out
show "$accord" log verify node/log --vkey node/node.vkey

step "Where to look next"
cat <<MSG
  $out/log/              the log as served: checkpoint, tile/<L>/..., tile/entries/...
  $out/keys/node.vkey    the verifier key that anyone needs to check it
  $out/node/             the exchange node: its log (node/log), key and SQLite index
  $out/scanner-db/       a scanner's verified mirror of that log and the database built from it
  $out/scanner.policy    the trust policy (C2SP tlog-policy) the scanner checked the witnesses with
  $out/dropper.evidence.json  a detection's evidence bundle: statement, proofs, cosigned checkpoint
  docs/update.md         accord update, mirror and verified scanning; docs/witness.md the witness
  docs/evidence.md       evidence bundles: what they prove, their format, how to check one
  docs/node.md           the node's HTTP API; docs/statement-format.md the signed statements
  docs/log-format.md     the formats as grammars; docs/benchmarks.md for the numbers
  accord log --help      every log command; accord serve --help, accord submit --help
MSG
