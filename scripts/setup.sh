#!/usr/bin/env bash
# Installs every Debian package fedledger needs to build, test, benchmark and run its demo.
# Idempotent and non-interactive: packages already present are left as they are.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libleveldb-dev libsnappy-dev          # ledger store (LevelDB links snappy)
  libsecp256k1-dev libcrypto++-dev      # BIP-340 signatures, ECDH; SHA-256, ChaCha20
  libboost-dev libboost-system-dev      # Beast / Asio transports and HTTP API
  nlohmann-json3-dev libcli11-dev catch2
  libtorch-dev libopenblas0-pthread     # trainer; without OpenBLAS LibTorch is ~15x slower
  librdkit-dev rdkit-data               # featurisation
  libjemalloc2 libjemalloc-dev          # reuses large training buffers instead of re-faulting them
  zlib1g-dev
  libtomlplusplus-dev                   # node configs and task specs (TOML)
  python3 python3-torch python3-sklearn python3-rdkit   # benchmark peers and cross-checks
  etcd-server etcd-client               # consensus benchmark peer
  jq                                    # the demo reads the nodes' JSON answers and reports
  curl                                  # the demo watches the rounds through a node's HTTP API
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
