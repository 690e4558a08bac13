#!/usr/bin/env bash
# Runs every fuzz target of a SOAK_FUZZ build for FUZZ_SECONDS each (FUZZ_JOBS at a time) over a
# copy of its committed corpus, so the corpus in fuzz/corpus/ is never rewritten. Stops at the
# first crash, leak or timeout: prints the target's log and the crashing input's path; exit 1.
# Usage: fuzz/run.sh BUILD_DIR [TARGET...]   (targets by short name: log_reader, import...)
set -euo pipefail
build=${1:?usage: fuzz/run.sh BUILD_DIR [TARGET...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-2}
work=$build/fuzz-run

dict_of() {
  case $1 in
    log_* | scenario | targets_file) echo "$here/dict/json.dict" ;;
    duration | quantity | gc_checkpoint) echo "$here/dict/units.dict" ;;
    prometheus_text | probe_spec) echo "$here/dict/prometheus.dict" ;;
    import) echo "$here/dict/import.dict" ;;
  esac
}

# One target: a fresh copy of its corpus, crashes written to its artifacts folder.
run_one() {
  local name=$1 dict
  local corpus=$work/$name/corpus artifacts=$work/$name/artifacts/
  rm -rf "${work:?}/$name"
  mkdir -p "$corpus" "$artifacts"
  cp -r "$here/corpus/$name/." "$corpus/"
  local args=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$artifacts")
  dict=$(dict_of "$name")
  if [ -n "$dict" ]; then args+=(-dict="$dict"); fi
  exec "$build/fuzz/fuzz_$name" "${args[@]}" "$corpus" >"$work/$name/log" 2>&1
}

# Prints what a failed target found and where its input is.
report_failure() {
  local name=$1
  echo "fuzz: fuzz_$name failed; the end of its log ($work/$name/log):" >&2
  tail -n 60 "$work/$name/log" >&2
  for input in "$work/$name/artifacts/"*; do
    [ -e "$input" ] && echo "fuzz: crashing input: $input" >&2
  done
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] && names+=("${bin##*/fuzz_}")
  done
fi
[ ${#names[@]} -gt 0 ] || { echo "fuzz: no fuzz targets in $build/fuzz" >&2; exit 1; }
mkdir -p "$work"

declare -A pid_of=()
finish() {  # waits for one target to end; on failure stops the others and exits 1
  local done_pid status=0 name
  wait -n -p done_pid "${pid_of[@]}" || status=$?
  for name in "${!pid_of[@]}"; do [ "${pid_of[$name]}" = "$done_pid" ] && break; done
  unset "pid_of[$name]"
  if [ "$status" -ne 0 ]; then
    for other in "${pid_of[@]}"; do kill "$other" 2>/dev/null || true; done
    wait || true
    report_failure "$name"
    exit 1
  fi
  echo "fuzz: fuzz_$name: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name/log" \
    | grep -o '[0-9]*$') runs in ${seconds} s, no crash"
}
for name in "${names[@]}"; do
  [ -x "$build/fuzz/fuzz_$name" ] || { echo "fuzz: no target fuzz_$name in $build/fuzz" >&2; exit 1; }
  while [ ${#pid_of[@]} -ge "$jobs" ]; do finish; done
  run_one "$name" &
  pid_of[$name]=$!
done
while [ ${#pid_of[@]} -gt 0 ]; do finish; done
