#!/usr/bin/env bash
# Where a federated round's time goes, on the demo federation (scripts/demo.sh: 4 validators,
# 3 partners on shards of Tox21 or of DATA, trunk 32768 x 256, secure aggregation), for several
# amounts of local work per round. For each round, from the partners' reports (block times on the
# ledger, wall-clock steps measured by each driver) and the aggregator's log:
#   round      round start (previous ROUND_AGGREGATE's block) to this ROUND_AGGREGATE's block
#   train      the slowest partner's local training (the round waits for it)
#   eval       the slowest partner's evaluation of the new model on its own folds
#   overhead   round - train - eval: masking, hashing, the ledger commits, transfers, aggregation
# and prints medians over rounds with the overhead's share of the round.
#
#   bash bench/rounds/overhead.sh [ROUNDS] [LOCAL_EPOCHS...]     default: 10 rounds, 1 and 10
#   FEDLEDGER_BIN=/other/build/tools/fedledger bash bench/rounds/overhead.sh ...   (another build)
#   DATA=../shared/data/muv.csv.gz SKIP_ALONE=1 bash bench/rounds/overhead.sh ...  (another data
#     set, without the demo's alone baselines; DATA, NAME and SKIP_ALONE go to scripts/demo.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-10}
shift || true
epochs=("$@")
(( ${#epochs[@]} )) || epochs=(1 10)
# The demo's task is "<name>-demo", name from the data file (as scripts/demo.sh derives it).
data=${DATA:-$PWD/../shared/data/tox21.csv.gz}
task=${NAME:-$(basename "$data" | sed -E 's/\.csv(\.gz)?$//')}-demo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%FT%TZ)"
echo "data: $data (task $task), binary: ${FEDLEDGER_BIN:-build/tools/fedledger}"
printf '%-13s %7s %7s %9s %9s %8s %8s %8s %8s %8s %9s %9s\n' local_epochs rounds rows round_ms train_ms eval_ms mask_ms commit_ms send_ms fetch_ms aggr_ms overhead
for le in "${epochs[@]}"; do
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  out=$(SKIP_SETUP=1 KEEP=1 ROUNDS=$rounds LOCAL_EPOCHS=$le bash scripts/demo.sh 2>&1) || { echo "$out" | tail -30; exit 1; }
  dir=$(echo "$out" | sed -n 's/^kept //p' | tail -1)
  aggr=$(grep -ho 'event=round-aggregated .*aggregate_ms=[0-9.]*' "$dir"/net/node3/node.log |
         sed 's/.*aggregate_ms=//' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  # Builds that sum updates as they arrive also log the time spent adding them (off the
  # critical path except for the last update's addition, which aggregate_ms includes).
  sum=$(grep -ho 'event=round-aggregated .*sum_ms=[0-9.]*' "$dir"/net/node3/node.log |
        sed 's/.*sum_ms=//' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}' || true)
  jq -s -r --arg le "$le" --arg aggr "$aggr" '
    def med: sort | .[(length - 1) / 2 | floor];
    [ .[0].rounds | keys[] ] as $idx
    | [ $idx[] as $i | [ .[] | .rounds[$i] ] ] as $per
    | [ $per[] | select(all(.[]; .train_ms != null)) ] as $full
    | ($full | map(.[0].ledger_round_ms)) as $round
    | ($full | map(map(.train_ms) | max)) as $train
    | ($full | map(map(.eval_ms // 0) | max)) as $eval
    | ($full | map(map(.mask_ms // 0) | max)) as $mask
    | ($full | map(map((.data_access_commit_ms // 0) + (.update_commit_ms // 0)) | max)) as $commit
    | ($full | map(map(.send_ms // 0) | max)) as $send
    | ($full | map(map(.fetch_apply_ms // 0) | max)) as $fetch
    | ($full | map(.[0].rows // 0)) as $rows
    | ([range(0; $full | length)] | map($round[.] - $train[.] - $eval[.])) as $over
    | [$le, ($full | length), ($rows | med), ($round | med), ($train | med), ($eval | med), ($mask | med),
       ($commit | med), ($send | med), ($fetch | med), ($aggr | tonumber),
       (($over | med) / ($round | med) * 100)]
    | "\(.[0])\t\(.[1])\t\(.[2])\t\(.[3] | floor)\t\(.[4] | floor)\t\(.[5] | floor)\t\(.[6] | floor)\t\(.[7] | floor)\t\(.[8] | floor)\t\(.[9] | floor)\t\(.[10] | floor)\t\(.[11] * 10 | round / 10)%"' \
    "$dir"/net/node{0,1,2}/tasks/"$task"/report.json |
    awk -F'\t' '{ printf "%-13s %7s %7s %9s %9s %8s %8s %8s %8s %8s %9s %9s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
  [[ -n "$sum" ]] && echo "  (aggregator: adding a round's updates as they arrived took $sum ms, median)"
  echo "  (load average $load_before before, $(cut -d' ' -f1 /proc/loadavg) after; results: $(echo "$out" | grep -A3 'PR alone' | tail -3 | awk '$2 == "-" {printf "%s PR %s; ", $1, $3; next} {printf "%s PR %s->%s; ", $1, $2, $3}'))"
  rm -rf "$dir"
done
