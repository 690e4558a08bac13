#!/usr/bin/env bash
# The demo: soak launches the bundled leaky example (heap growth plus a slow descriptor leak)
# and samples it for about a minute, then analyzes and reports.
# DEMO_DURATION overrides the length (e.g. DEMO_DURATION=10s make demo).
set -uo pipefail
build=${1:-build}
duration=${DEMO_DURATION:-60s}
"$build/cli/soak" run --duration "$duration" --interval 500ms -- \
  "$build/examples/soak-example-leaky" --leak-mib-per-min 30 --fd-leak-per-s 0.2 --children 2
code=$?
latest=$(ls -1dt soak-runs/*/ 2>/dev/null | head -n 1)
echo
echo "demo: soak exited with $code; the run directory is ${latest:-missing}"
echo "demo: re-analyze it with: $build/cli/soak analyze ${latest}"
# 0-2 are verdicts (pass / fail / inconclusive); anything else is a failure of the demo.
[ "$code" -le 2 ]
