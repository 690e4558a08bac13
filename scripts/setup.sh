#!/usr/bin/env bash
# Installs the Debian packages that soak's build, tests and benchmarks need.
# Idempotent: when everything is present it only runs dpkg-query and returns.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-dev libboost-system-dev nlohmann-json3-dev
  libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev catch2 libcli11-dev
  clang-format clang-tidy clang libclang-rt-14-dev
  python3 python3-psutil python3-numpy python3-scipy python3-memory-profiler
  procps util-linux curl prometheus tmux
  redis-server memcached nginx-light wrk openjdk-17-jdk-headless nodejs
  chromium
)

# python3-locust: only the tests (tests/external_load_test.cpp) and users who bring their own
# Locust load need it; soak itself never does. `setup.sh locust` installs just that.
if [ "${1:-}" = "locust" ]; then packages=(python3-locust); else packages+=(python3-locust); fi

# `setup.sh bench` also installs what the benchmarks compare against.
if [ "${1:-}" = "bench" ]; then packages+=(nginx-light wrk); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
