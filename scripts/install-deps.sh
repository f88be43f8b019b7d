#!/usr/bin/env bash
# Installs every Debian package Tessera needs, and the npm packages of the browser test
# and of the subtensor tests (chopsticks, @polkadot/api) at the versions their lockfiles pin. Idempotent: prints nothing and touches neither apt
# nor npm when everything is already present. Must run as root (or with sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libtorch-dev libopenblas0-pthread
  libzmq3-dev cppzmq-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-serialization-dev libboost-dev libxxhash-dev libssl-dev libgloo-dev libsodium-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev
  clang-14 libclang-rt-14-dev
  fortunes fortunes-min
  python3-torch
  libcpp-httplib-dev prometheus
  chromium curl jq
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

# Node.js and npm: Debian's unless the machine already has them (e.g. from NodeSource).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: done"
fi

# npm packages at the versions the lockfiles pin: the dashboard's browser test drives
# Debian's Chromium with playwright-core; the subtensor tests run the testfinney runtime
# under chopsticks. Reinstalled only when a lockfile changed.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for dir in "$ROOT/tests/browser" "$ROOT/tests/subtensor"; do
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.tessera-lock.json" 2>/dev/null; then
    echo "install-deps: npm ci in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null &&
      cp package-lock.json node_modules/.tessera-lock.json)
  fi
done
