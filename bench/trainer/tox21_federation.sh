#!/bin/sh
# Horizontal federation on Tox21: the set dealt to 3 partners by scaffold (all 12 assays
# each), alone vs federated vs centralised, one run per seed (the seed changes the partner
# split, the fold split, initialisation, batch order and dropout).
#   bench/trainer/tox21_federation.sh BUILD_DIR OUT_DIR "0 1 2"
set -eu
BIN=${1:-build-trainer}/tools/fedledger
OUT=${2:-bench/trainer/results/tox21}
SEEDS=${3:-"0 1 2"}
DATA=${DATA:-../shared/data/tox21.csv.gz}
GRID=${GRID:-"--hidden 256 --dropout 0.2,0.5 --rounds 40"}
mkdir -p "$OUT"
for s in $SEEDS; do
  parts="$OUT/parts-seed$s"
  nice -n 5 "$BIN" data split --in "$DATA" --partners 3 --out "$parts" --seed "$s" > "$OUT/split-seed$s.txt"
  # shellcheck disable=SC2086
  nice -n 5 "$BIN" train simulate --partners "$parts/partner1.csv.gz,$parts/partner2.csv.gz,$parts/partner3.csv.gz" \
    $GRID --seed "$s" --json "$OUT/seed$s.json" --force > "$OUT/seed$s.txt"
  rm -rf "$parts"
done
/usr/bin/python3 "$(dirname "$0")/summarize.py" "$OUT"/seed*.json
