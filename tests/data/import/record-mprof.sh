#!/usr/bin/env bash
# Re-records the mprof fixtures with memory_profiler's `mprof run` (Debian's
# python3-memory-profiler): a leaking and a healthy Python service, and a worker pool whose
# children are sampled one by one (`-M`). About 5 minutes; the three run side by side.
# The recordings are real, so the values differ every time; the tests assert only the
# classifications, which hold for any run on an idle machine.
set -euo pipefail
cd "$(dirname "$0")"
# Debian names the command python3-mprof; pip's is mprof.
MPROF=$(command -v python3-mprof || command -v mprof) ||
  { echo "mprof missing: apt-get install python3-memory-profiler" >&2; exit 1; }
rm -f mprof-leak.dat mprof-healthy.dat mprof-children.dat
"$MPROF" run -T 1 -o mprof-leak.dat leaky_service.py 240 >/dev/null &
"$MPROF" run -T 1 -o mprof-healthy.dat healthy_service.py 300 >/dev/null &
"$MPROF" run -T 1 -M -o mprof-children.dat worker_pool.py 300 >/dev/null &
wait
wc -l mprof-leak.dat mprof-healthy.dat mprof-children.dat
