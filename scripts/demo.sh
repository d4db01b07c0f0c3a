#!/usr/bin/env bash
# The demo federation, end to end on loopback: 4 validators (3 partners and a neutral
# operator that aggregates), Tox21 dealt to the partners by scaffold, a task proposed and
# approved from the command line, the rounds run by the nodes' round drivers (gated data
# access, secure aggregation, every hash on the ledger), each partner's PR-AUC and ROC-AUC
# federated vs alone, then every validator's store audited and the task's history shown.
#
#   bash scripts/demo.sh                       # installs, builds, runs (about 1 minute after the build)
#   SKIP_SETUP=1 ROUNDS=10 bash scripts/demo.sh
#   KEEP=1 ...                                  # keep the working directory
#   DATA=../shared/data/muv.csv.gz ...          # another data set (task "<name>-demo", datasets
#                                               # "<name>-shard-N", name from the file or NAME=)
#   SKIP_ALONE=1 ...                            # no alone baselines (benchmarks of the rounds only)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [[ -z "${SKIP_SETUP:-}" ]]; then
  bash scripts/setup.sh
  bash scripts/build.sh
fi
fl=${FEDLEDGER_BIN:-$root/build/tools/fedledger}  # FEDLEDGER_BIN: another build, for side-by-side benchmarks
rounds=${ROUNDS:-30}
local_epochs=${LOCAL_EPOCHS:-1}
seed=${SEED:-0}
hidden=${HIDDEN:-256}
dropout=${DROPOUT:-0.2}
data=${DATA:-$root/../shared/data/tox21.csv.gz}
name=${NAME:-$(basename "$data" | sed -E 's/\.csv(\.gz)?$//')}
task=$name-demo
case $name in
  tox21) label=Tox21; title="Tox21 multitask toxicity, 3 partners" ;;
  muv) label=MUV; title="MUV multitask bioactivity, 3 partners" ;;
  *) label=$name; title="$name multitask, 3 partners" ;;
esac
demo=$(mktemp -d /tmp/fedledger-federation.XXXXXX)
net=$demo/net
cleanup() {
  "$fl" testnet down --dir "$net" >/dev/null 2>&1 || true
  if [[ -n "${KEEP:-}" ]]; then echo "kept $demo"; else rm -rf "$demo"; fi
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
t_start=$(date +%s)

step "$label dealt to 3 partners by Bemis-Murcko scaffold (no scaffold is shared)"
"$fl" data split --in "$data" --partners 3 --out "$demo/data" --seed "$seed"

step "A testnet of 4 validators on loopback: validator-0..2 run partner-0..2, validator-3 is the operator"
"$fl" testnet init --validators 4 --partners 3 --dir "$net"
for i in 0 1 2; do
  # Each partner's validator also runs that partner's side of the tasks it approved, with
  # its own shard. The file never leaves the node; only its hash goes on the ledger.
  cat >> "$net/node$i/node.toml" <<EOF

[partner]
key = "../keys/partner-$i.key"
datasets = { "$name-shard-$i" = "$demo/data/partner$((i + 1)).csv.gz" }
torch_threads = 1
EOF
done
"$fl" testnet up --dir "$net"
url() { jq -r ".validators[$1].http" "$net/testnet.json"; }

step "Each partner registers its shard: hash, row count and schema go on the ledger"
for i in 0 1 2; do
  "$fl" dataset register --file "$demo/data/partner$((i + 1)).csv.gz" --id "$name-shard-$i" \
    --key "$net/keys/partner-$i.key" --node "$(url $i)" --description "$label scaffold shard $i"
done

step "partner-0 proposes the task"
cat > "$demo/task.toml" <<EOF
task_id = "$task"
title = "$title"
description = "MELLODDY-style: shared trunk over ECFP (radius 2, 32768 bits), private heads"
model = "mlp-trunk"
rounds = $rounds
round_timeout_ms = 120000
expires_in_minutes = 60
aggregator = "validator-3"

[[participants]]
partner = "partner-0"
dataset = "$name-shard-0"
[[participants]]
partner = "partner-1"
dataset = "$name-shard-1"
[[participants]]
partner = "partner-2"
dataset = "$name-shard-2"

[settings]
bits = 32768
hidden = "$hidden"
dropout = $dropout
lr = 0.001
batch_size = 128
local_epochs = $local_epochs
seed = $seed
EOF
"$fl" task propose --spec "$demo/task.toml" --key "$net/keys/partner-0.key" --node "$(url 0)"

step "Each partner reads the spec and approves the hash it read"
"$fl" task show "$task" --node "$(url 1)"
spec_hash=$("$fl" task show "$task" --node "$(url 1)" --json | jq -r .spec_hash)
for i in 0 1 2; do
  "$fl" task approve "$task" --spec-hash "$spec_hash" --key "$net/keys/partner-$i.key" \
    --node "$(url $i)"
done

step "The rounds run: data access, local training, masked update, aggregate ($rounds rounds)"
t_rounds=$(date +%s)
last=""
while true; do
  # The node's HTTP API directly: a fedledger process costs ~0.4 s of CPU to start (it links
  # LibTorch and RDKit), which every second would be taken from the rounds being watched.
  js=$(curl -fsS --max-time 10 "$(url 3)/tasks/$task")
  status=$(jq -r .status <<<"$js")
  done_rounds=$(jq '[.round_progress[]? | select(.aggregate != null)] | length' <<<"$js")
  line="status $status, rounds aggregated $done_rounds/$rounds"
  [[ "$line" != "$last" ]] && { echo "  $(date +%T) $line"; last=$line; }
  case $status in
    completed) break ;;
    active) ;;
    *) echo "the task ended as $status"; exit 1 ;;
  esac
  if (( $(date +%s) - t_rounds > 1800 )); then echo "the rounds did not finish in 30 minutes"; exit 1; fi
  sleep 1
done
fed_seconds=$(( $(date +%s) - t_rounds ))
echo "  $rounds rounds in ${fed_seconds} s"
# The partners write their reports when they have checked the final trunk.
for i in 0 1 2; do
  for _ in $(seq 1 120); do [[ -f "$net/node$i/tasks/$task/report.json" ]] && break; sleep 0.5; done
done

if [[ -z "${SKIP_ALONE:-}" ]]; then
  step "Each partner alone: the same model, settings, split and initialisation, its own data only"
  for i in 0 1 2; do
    "$fl" train local --data "$demo/data/partner$((i + 1)).csv.gz" --hidden "$hidden" \
      --dropout "$dropout" --epochs $(( rounds * local_epochs )) --seed "$seed" --json "$demo/alone-$i.json" > /dev/null
  done
fi

step "Test-fold macro PR-AUC and ROC-AUC, each at the round/epoch its own validation fold chose"
printf '%-10s %8s %8s %8s   %8s %8s %8s   %s\n' partner "PR alone" "PR fed" "gain" "ROC alone" "ROC fed" "gain" "final trunk"
for i in 0 1 2; do
  rep=$net/node$i/tasks/$task/report.json
  alone=$demo/alone-$i.json
  pa=-; ra=-  # SKIP_ALONE: no baseline
  if [[ -f "$alone" ]]; then
    pa=$(jq '.partners[0].alone.test_macro_pr_auc' "$alone"); ra=$(jq '.partners[0].alone.test_macro_roc_auc' "$alone")
  fi
  pf=$(jq '.selected.test.pr_auc' "$rep"); rf=$(jq '.selected.test.roc_auc' "$rep")
  ok=$(jq -r 'if .final_trunk_verified then "matches ledger" else "MISMATCH" end' "$rep")
  awk -v n="partner-$i" -v pa="$pa" -v pf="$pf" -v ra="$ra" -v rf="$rf" -v ok="$ok" \
    'BEGIN { if (pa == "-") printf "%-10s %8s %8.4f %8s   %8s %8.4f %8s   %s\n", n, "-", pf, "-", "-", rf, "-", ok
             else printf "%-10s %8.4f %8.4f %+8.4f   %8.4f %8.4f %+8.4f   %s\n", n, pa, pf, pf - pa, ra, rf, rf - ra, ok }'
done

step "Where a round's time went (medians over rounds, from the partners' reports)"
jq -s -r '
  def med: sort | if length == 0 then 0 else .[(length / 2 | floor)] end;
  [ .[] | .rounds[] | select(.train_ms != null) ] as $r
  | "  local training    \($r | map(.train_ms) | med | floor) ms",
    "  masking + hash    \($r | map(.mask_ms // 0) | med | floor) ms",
    "  ledger commits    \($r | map((.data_access_commit_ms // 0) + (.update_commit_ms // 0)) | med | floor) ms (DATA_ACCESS + MODEL_UPDATE)",
    "  send update       \($r | map(.send_ms // 0) | med | floor) ms",
    "  fetch aggregate   \($r | map(.fetch_apply_ms // 0) | med | floor) ms",
    "  round on ledger   \($r | map(.ledger_round_ms) | med | floor) ms (round start to ROUND_AGGREGATE, block times)"' \
  "$net"/node{0,1,2}/tasks/$task/report.json

step "Stop the validators; the compliance officer verifies every store from the genesis"
"$fl" testnet down --dir "$net"
genesis=$(jq -r .genesis_hash "$net/testnet.json")
for i in 0 1 2 3; do
  "$fl" audit verify --data-dir "$net/node$i" --genesis-hash "$genesis" --json > "$demo/verify-$i.json" || {
    cat "$demo/verify-$i.json"; echo "node$i: verification FAILED"; exit 1; }
  jq -r --arg n "node$i" '"  \($n): \(.entries) entries in \(.blocks) blocks, log root \(.log_root)"' "$demo/verify-$i.json"
done
if [[ $(jq -r .log_root "$demo"/verify-*.json | sort -u | wc -l) != 1 ]]; then
  echo "the validators' log roots differ"; exit 1
fi
echo "  all four stores verify and hold the same log"

step "The task's full history on the ledger"
"$fl" audit log --data-dir "$net/node3" --task $task --limit 14
n=$("$fl" audit log --data-dir "$net/node3" --task $task --json | jq length)
echo "  ... $n entries for task $task"

step "Every hash on the ledger is the sha256sum of a file the nodes hold"
final=$("$fl" audit log --data-dir "$net/node3" --task $task --kind TASK_COMPLETE --json | jq -r '.[0].payload.final_trunk_hash')
echo "  TASK_COMPLETE final_trunk_hash  $final"
echo "  sha256sum on the operator:      $(sha256sum "$net/node3/artifacts/$final" | cut -c1-64)"
"$fl" audit log --data-dir "$net/node3" --task $task --kind MODEL_UPDATE --json |
  jq -r '.[].payload.update_hash' > "$demo/updates.txt"
bad=0
while read -r h; do
  [[ "$(sha256sum "$net/node3/artifacts/$h" | cut -c1-64)" == "$h" ]] || { echo "  update $h: MISMATCH"; bad=1; }
done < "$demo/updates.txt"
echo "  $(wc -l < "$demo/updates.txt") masked updates on the operator's node: every sha256sum matches its MODEL_UPDATE"
(( bad == 0 ))
echo
echo "demo finished in $(( $(date +%s) - t_start )) s (federated rounds ${fed_seconds} s)"
