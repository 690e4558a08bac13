#!/usr/bin/env bash
# Runs every benchmark in bench/ and prints its ratios.
set -euo pipefail
build=${1:-build}
"$build/bench/sampler_bench" "$build/examples/soak-example-leaky" "${@:2}"
