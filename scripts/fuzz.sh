#!/usr/bin/env bash
# Builds the libFuzzer decoder target with clang (ASan + UBSan) and runs it for SECONDS
# (default 60), seeded with real encodings from a small dev ledger.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DFEDLEDGER_FUZZ=ON \
  -DFEDLEDGER_WITH_TRAINER=OFF -DFEDLEDGER_WITH_NET=OFF -DFEDLEDGER_WITH_CONSENSUS=OFF \
  -DFEDLEDGER_WITH_ORCHESTRATOR=OFF -DFEDLEDGER_WITH_NODE=OFF > /dev/null
ninja -C build-fuzz decode_fuzz fuzz_seed_corpus
mkdir -p build-fuzz/corpus
build-fuzz/tests/fuzz/fuzz_seed_corpus build-fuzz/corpus
build-fuzz/tests/fuzz/decode_fuzz -max_total_time="$secs" -max_len=8192 build-fuzz/corpus
