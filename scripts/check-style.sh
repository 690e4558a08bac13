#!/usr/bin/env bash
# House habits kept by tools (CI runs this after the build):
#  - every C++ file is formatted as .clang-format says (fix with: clang-format -i FILE);
#  - no product function (outside tests/, bench/, examples/, fuzz/) is over 100 lines.
# Usage: scripts/check-style.sh [BUILD_DIR]   (BUILD_DIR has compile_commands.json; default build)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
status=0

mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/soak-format.$$; then
  count=$(grep -cE '(warning|error):' /tmp/soak-format.$$)
  grep -E '(warning|error):' /tmp/soak-format.$$ | cut -d: -f1 | sort | uniq -c | sed 's/^/  /' >&2
  echo "check-style: clang-format finds $count deviations in the files above; run" \
       "clang-format -i on them" >&2
  status=1
fi
rm -f /tmp/soak-format.$$

mapfile -t product < <(git ls-files '*.cpp' | grep -Ev '^(tests|bench|examples|fuzz)/')
if [ ! -f "$build/compile_commands.json" ]; then
  echo "check-style: no $build/compile_commands.json; build first (make build)" >&2
  exit 1
fi
config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 100}]}'
tidy_out=$(clang-tidy -p "$build" --quiet -checks='-*,readability-function-size' \
             -config="$config" "${product[@]}" 2>/tmp/soak-tidy.$$)
tidy_status=$?
if [ $tidy_status -ne 0 ]; then
  # A file clang-tidy cannot parse would hide its functions from the check.
  tail -n 20 /tmp/soak-tidy.$$ >&2
  echo "check-style: clang-tidy failed (exit $tidy_status); the function sizes were not checked" >&2
  status=1
fi
rm -f /tmp/soak-tidy.$$
long=$(grep 'warning: function' <<<"$tidy_out" || true)
if [ -n "$long" ]; then
  echo "$long" >&2
  echo "check-style: the functions above are over 100 lines; split them by concern" >&2
  status=1
fi
[ $status -eq 0 ] && echo "check-style: formatting and function sizes are as the house asks"
exit $status
