#!/usr/bin/env bash
# The demo: a seed scenario end to end. soak launches the bundled example HTTP server (which
# keeps 2 MiB per finished job: a per-job leak), waits until /health answers, runs job
# workflows against it (submit, poll until done, fetch the result) while sampling it, then
# analyzes and writes the report. About a minute; DEMO_DURATION overrides (e.g. 10m).
set -uo pipefail
build=${1:-build}
duration=${DEMO_DURATION:-60s}
if [ "$build" != "build" ]; then
  echo "demo: the bundled scenarios expect the build in ./build" >&2
fi
"$build/cli/soak" run examples/scenarios/sequential_jobs.json --duration "$duration"
code=$?
latest=$(ls -1dt soak-runs/*/ 2>/dev/null | head -n 1)
echo
echo "demo: soak exited with $code (0 pass, 1 fail, 2 inconclusive); the run directory is ${latest:-missing}"
echo "demo: open ${latest}report.html, or re-analyze with: $build/cli/soak analyze ${latest}"
[ "$code" -le 2 ]
