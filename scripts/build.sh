#!/usr/bin/env bash
# Configures and builds fedledger (Release with debug info) into build/ with Ninja and ccache.
# Extra arguments go to CMake (e.g. -DFEDLEDGER_SANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
mkdir -p build
log=build/build.log
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }
ninja -C build -j"$jobs" >> "$log" 2>&1 || { tail -60 "$log"; exit 1; }
echo "build: ok (build/tools/fedledger)"
