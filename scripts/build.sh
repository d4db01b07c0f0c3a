#!/usr/bin/env bash
# Configures and builds fedledger (Release with debug info) into build/ with Ninja and ccache.
# Extra arguments go to CMake (e.g. -DFEDLEDGER_SANITIZE=ON, or -DFEDLEDGER_WITH_TRAINER=OFF for a
# ledger-only build; the trainer is on explicitly so a build dir configured without it earlier
# gets it back: the demo and the round driver need it).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
mkdir -p build
log=build/build.log
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEDLEDGER_WITH_TRAINER=ON "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }
ninja -C build -j"$jobs" >> "$log" 2>&1 || { tail -60 "$log"; exit 1; }
echo "build: ok (build/tools/fedledger)"
