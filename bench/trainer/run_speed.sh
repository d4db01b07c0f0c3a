#!/bin/sh
# LibTorch C++ (`fedledger train bench`) vs Python PyTorch (torch_peer.py) on the same
# featurised data, model and hyper-parameters, run alternately in one session so both see the
# same machine load. One process per run (peak RSS is per process).
#   bench/trainer/run_speed.sh BUILD_DIR OUT_FILE
set -eu
BIN=${1:-build-trainer}/tools/fedledger
OUT=${2:-bench/trainer/results/speed.jsonl}
DATA=${DATA:-../shared/data/tox21.csv.gz}
EPOCHS=${EPOCHS:-3}
HIDDEN=${HIDDEN:-512}
REPEATS=${REPEATS:-2}
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
PY=/usr/bin/python3
HERE=$(dirname "$0")
DUMP=$(mktemp /tmp/fl_speed_XXXXXX.txt)
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
nice -n 5 "$BIN" train bench --data "$DATA" --epochs 0 --dump "$DUMP" --force 2>/dev/null
COMMON="--epochs $EPOCHS --hidden $HIDDEN --batch-size 128 --dropout 0.2 --threads 1"
# Both sides reach BLAS through Debian's OpenBLAS (pthread), whose idle pool spins on every
# core unless told otherwise; the C++ trainer sets it to its thread count itself, the Python
# peer gets the same through the environment.
export OPENBLAS_NUM_THREADS=1
for r in $(seq "$REPEATS"); do
  for rows in compact full; do
    flag=""; [ "$rows" = full ] && flag="--full-rows"
    # shellcheck disable=SC2086
    nice -n 5 "$BIN" train bench --data "$DATA" $COMMON $flag >> "$OUT"
    # shellcheck disable=SC2086
    nice -n 5 $PY "$HERE/torch_peer.py" --dump "$DUMP" $COMMON --rows "$rows" >> "$OUT"
    # shellcheck disable=SC2086
    LD_PRELOAD=$JEMALLOC nice -n 5 $PY "$HERE/torch_peer.py" --dump "$DUMP" $COMMON --rows "$rows" \
      | sed 's/"impl": "pytorch-python"/"impl": "pytorch-python+jemalloc"/' >> "$OUT"
  done
done
rm -f "$DUMP"
$PY "$HERE/speed_table.py" "$OUT"
