#!/usr/bin/env bash
# Runs every libFuzzer harness (make fuzz) until 10 million executions or SECONDS, whichever comes
# first, JOBS at a time, under nice, each on
# its own working corpus build/fuzz/long/<name>/ started from the committed seeds in
# fuzz/corpus/<name>/ (which are never written to). Prints each harness's execution count, the
# wall and CPU seconds it ran (under nice, a busy machine gives it less CPU than wall time) and
# whether it crashed; crash inputs are left in build/fuzz/long/ as <name>-crash-<hash>.
#
#   scripts/fuzz_long.sh 1800 2     # the issue's 30 minutes each, two at a time
#   scripts/fuzz_long.sh 60 1 json  # one harness
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
jobs=${2:-1}
shift $(( $# > 2 ? 2 : $# ))
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in fuzz/*.cpp; do names+=("$(basename "$f" .cpp)"); done
fi
make fuzz >/dev/null
mkdir -p build/fuzz/long

run_one() {
  local name=$1 log=build/fuzz/long/$1.log
  mkdir -p "build/fuzz/long/$name"
  local start=$SECONDS status=ok cpu self=$BASHPID
  if (cd build/fuzz/long && nice -n 19 "../fuzz_$name" -runs=10000000 -max_total_time="$seconds" \
        -print_final_stats=1 -artifact_prefix="$name-" "$name" "../../../fuzz/corpus/$name" >"$name.log" 2>&1); then
    status=ok
  else
    status=CRASH
  fi
  # CPU seconds of the finished child (user + system), from /proc of this subshell's children.
  cpu=$(awk '{print int(($16 + $17) / 100)}' "/proc/$self/stat")
  echo "$name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?') executions, $((SECONDS - start)) s wall, ${cpu} s CPU, $status"
}

running=0
for name in "${names[@]}"; do
  run_one "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
