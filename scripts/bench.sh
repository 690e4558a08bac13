#!/usr/bin/env bash
# Runs every benchmark in bench/ and prints its ratios. Pass --quick for a short version.
set -euo pipefail
build=${1:-build}
shift || true
"$build/bench/sampler_bench" "$build/examples/soak-example-leaky" "$@"
echo
"$build/bench/analysis_bench" "$@"
echo
"$build/bench/load_bench" "$@"
echo
# The disk a log takes per interval and run length (not a ratio: sizes, on replayed real values).
if [ "${1:-}" != "--quick" ]; then "$build/bench/log_disk" "$build"; fi
