#!/usr/bin/env bash
# Two builds side by side: RUNS alternating runs of bench/rounds/overhead.sh (before, after,
# before, after, ...), each one under `flock LOCK` so that no other benchmark on the machine
# runs at the same time. The environment (DATA, NAME, SKIP_ALONE) goes to overhead.sh.
#
#   bash bench/rounds/side_by_side.sh BEFORE_BIN AFTER_BIN RUNS [overhead.sh args...]
#   LOCK=/work/bench.lock (default)
set -euo pipefail
cd "$(dirname "$0")/../.."
before=$1 after=$2 runs=$3
shift 3
lock=${LOCK:-/work/bench.lock}
for run in $(seq 1 "$runs"); do
  for build in before after; do
    bin=$before
    [[ $build == after ]] && bin=$after
    echo "### run $run, build $build ($bin), $(date -u +%FT%TZ)"
    FEDLEDGER_BIN=$bin flock "$lock" bash bench/rounds/overhead.sh "$@"
  done
done
