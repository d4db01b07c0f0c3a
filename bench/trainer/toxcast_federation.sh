#!/bin/sh
# MELLODDY-like federation on ToxCast: 4 partners = 4 assay providers (ATG, NVS, BSK, TOX21),
# each with its own compounds dealt by scaffold and only those carrying its own labels.
#   bench/trainer/toxcast_federation.sh BUILD_DIR OUT_DIR "0 1 2 3 4 5"
set -eu
BIN=${1:-build-trainer}/tools/fedledger
OUT=${2:-bench/trainer/results/toxcast}
SEEDS=${3:-"0 1 2 3 4 5"}
DATA=${DATA:-../shared/data/toxcast.csv.gz}
GRID=${GRID:-"--hidden 256 --dropout 0.2,0.5 --rounds 40 --no-central"}
mkdir -p "$OUT"
for s in $SEEDS; do
  parts="$OUT/parts-seed$s"
  nice -n 5 "$BIN" data split --in "$DATA" --partners 4 --assays-by-prefix --prefixes ATG,NVS,BSK,TOX21 \
    --out "$parts" --seed "$s" > "$OUT/split-seed$s.txt"
  # shellcheck disable=SC2086
  nice -n 5 "$BIN" train simulate --partners "$parts/ATG.csv.gz,$parts/NVS.csv.gz,$parts/BSK.csv.gz,$parts/TOX21.csv.gz" \
    $GRID --seed "$s" --json "$OUT/seed$s.json" --force > "$OUT/seed$s.txt"
  rm -rf "$parts"
done
/usr/bin/python3 "$(dirname "$0")/summarize.py" "$OUT"/seed*.json
