#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (unit, simulated-network and
# multi-process tests) with CTest. Exit status is CTest's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 900
