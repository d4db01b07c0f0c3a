#!/bin/sh
# The training epoch against its dense-Adam floor, fused trunk step vs the reference
# scatter-then-Adam path, alternating in one session (one process per run):
#   bench/trainer/run_floor.sh BUILD_DIR OUT_FILE [RUNS]
# Each line of OUT_FILE is one `fedledger train bench` JSON; floor_table.py prints the table.
set -eu
BIN=${1:-build}/tools/fedledger
OUT=${2:-bench/trainer/results/floor-fused.jsonl}
RUNS=${3:-3}
DATA=${DATA:-../shared/data/tox21.csv.gz}
HIDDEN=${HIDDEN:-512}
EPOCHS=${EPOCHS:-5}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
for r in $(seq "$RUNS"); do
  for flag in "" --unfused; do
    # shellcheck disable=SC2086
    nice -n 5 "$BIN" train bench --data "$DATA" --hidden "$HIDDEN" --epochs "$EPOCHS" --threads 1 $flag >> "$OUT"
  done
done
/usr/bin/python3 "$(dirname "$0")/floor_table.py" "$OUT"
