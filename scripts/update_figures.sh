#!/usr/bin/env bash
# Figures that cannot go stale: writes the output of the seeded runs shown in README.md and
# docs/ from the current build, or checks that they are what it prints now.
#
#   scripts/update_figures.sh [--check [--any-cpu]] [run] [demo] [text]     (default: run)
#
#   run    `make run` (scripts/run_fashion_transfer.sh; about 30 s of training on 2 idle cores):
#          README.md's block, progress and estimate lines left out
#   demo   `THREADS=1 make demo` (33 fine-tunes, about 5 minutes of one core): the table in
#          README.md and docs/results.md
#   text   `THREADS=1 TRAIN=400 EVAL=300 make run-text` (needs make deps' MiniLM): README.md
#
# Each block sits between the markers <!-- figures:NAME ... --> and <!-- /figures:NAME -->; the
# opening marker records the build that printed it: the GEMM's path (avx512, avx2 or scalar, as
# -march=native compiles tensor/cpu/gemm_kernels.h) and the compiler; the block's first line
# names the CPU. Losses, accuracies and parameter counts are deterministic there (seeded data
# order, initialisation and dropout; the same for every thread count); the times are not.
#
# --check reruns the sections and compares them with the blocks, times masked, and exits 1 on a
# difference. It compares only where this build's GEMM path and compiler are the block's: another
# path sums in another order (AVX-512 adds 16 lanes at a time, AVX2 8), so the last digits of
# losses and accuracies move; there it says so and runs nothing (.ci/run calls it that way), or
# with --any-cpu shows the differences without failing.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 [--check [--any-cpu]] [run] [demo] [text]" >&2; exit 2; }
check=0
any_cpu=0
sections=()
for a in "$@"; do
  case $a in
    --check) check=1 ;;
    --any-cpu) any_cpu=1 ;;
    run|demo|text) sections+=("$a") ;;
    *) usage ;;
  esac
done
[ ${#sections[@]} -gt 0 ] || sections=(run)

cxx=${CXX:-g++}
# shellcheck disable=SC2086
macros=$($cxx ${CXXFLAGS:--O3 -march=native} -dM -E -x c++ /dev/null)
if grep -q '__AVX512F__' <<< "$macros"; then gemm=avx512
elif grep -q '__AVX2__' <<< "$macros" && grep -q '__FMA__' <<< "$macros"; then gemm=avx2
else gemm=scalar; fi
build_key="gemm=$gemm cxx=$(basename "$cxx")-$($cxx -dumpfullversion 2>/dev/null || $cxx -dumpversion)"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
machine="# ${cpu:-unknown CPU}, $(nproc) cores, GEMM $gemm, $(cut -d' ' -f2 <<< "$build_key"): every figure but the times is deterministic"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Times ("487.6 s", "10.9s", "948 s in all") are the machine's and its load's: never compared.
mask_times() { sed -E 's/[0-9]+(\.[0-9]+)? ?s\b/T s/g'; }

# The section's output, as the block shows it (paths under the scratch RUNS read runs/). A
# failing run stops the script with the end of what it printed.
generate() {
  local runs="$tmp/runs" raw="$tmp/$1.raw"
  rm -rf "$runs"
  case $1 in
    run) RUNS=$runs scripts/run_fashion_transfer.sh > "$raw" 2>&1 || failed=1 ;;
    demo) RUNS=$runs THREADS=1 scripts/demo.sh > "$raw" 2>&1 || failed=1 ;;
    text) RUNS=$runs THREADS=1 TRAIN=400 EVAL=300 scripts/run_text.sh > "$raw" 2>&1 || failed=1 ;;
  esac
  if [ "${failed:-0}" = 1 ]; then
    echo "$0: the $1 run failed; the end of its output:" >&2
    tail -n 20 "$raw" | tr '\r' '\n' | tail -n 20 >&2
    exit 1
  fi
  echo "$machine"
  case $1 in
    run) echo '$ make run'
         tr '\r' '\n' < "$raw" | grep -E '^(== |epoch [0-9]+:|test accuracy|method: )' ;;
    demo) sed -n '/^Fashion-MNIST classes/,$p' "$raw" ;;
    text) sed -n '/^all-MiniLM-L6-v2 on/,$p' "$raw" ;;
  esac | sed "s#$runs/#runs/#g"
}

files_of() {
  case $1 in
    run|text) echo README.md ;;
    demo) echo README.md docs/results.md ;;
  esac
}

# The block of figures:NAME in FILE, without its fences.
block() {
  awk -v name="$1" '
    index($0, "<!-- /figures:" name " -->") == 1 { inside = 0 }
    inside && !/^```/ { print }
    index($0, "<!-- figures:" name " ") == 1 { inside = 1 }' "$2"
}

# The build recorded in FILE's opening marker of NAME ("gemm=avx2 cxx=g++-12.2.0").
recorded_key() {
  sed -n "s/^<!-- figures:$1 \(gemm=[^ ]* cxx=[^ ]*\) .*/\1/p" "$2" | head -1
}

# Replaces FILE's block NAME with the lines of NEW, and its marker with this build's.
replace_block() {
  awk -v name="$1" -v key="$build_key" -v new="$3" '
    index($0, "<!-- figures:" name " ") == 1 {
      print "<!-- figures:" name " " key " (written by scripts/update_figures.sh " name ") -->"
      print "```"
      while ((getline line < new) > 0) print line
      print "```"
      skip = 1
      next
    }
    index($0, "<!-- /figures:" name " -->") == 1 { skip = 0 }
    !skip { print }' "$2" > "$tmp/replaced"
  cat "$tmp/replaced" > "$2"
}

status=0
for section in "${sections[@]}"; do
  files=$(files_of "$section")
  for f in $files; do
    grep -q "^<!-- figures:$section " "$f" || { echo "$0: $f has no <!-- figures:$section ... --> marker" >&2; exit 1; }
  done
  first=${files%% *}
  recorded=$(recorded_key "$section" "$first")
  if [ "$check" = 1 ] && [ "$recorded" != "$build_key" ] && [ "$any_cpu" = 0 ]; then
    echo "figures:$section not compared: $first's were printed by a build with $recorded, this one has $build_key (another GEMM path or compiler moves the last digits; --any-cpu shows the differences)"
    continue
  fi
  echo "== figures:$section: running it ($build_key)" >&2
  generate "$section" > "$tmp/$section.new" || exit 1
  if [ "$check" = 0 ]; then
    for f in $files; do replace_block "$section" "$f" "$tmp/$section.new"; done
    echo "figures:$section written into $files"
    continue
  fi
  for f in $files; do
    if diff <(block "$section" "$f" | sed 1d | mask_times) <(sed 1d "$tmp/$section.new" | mask_times) > "$tmp/diff"; then
      echo "figures:$section in $f: the current build prints them ($build_key)"
    elif [ "$recorded" = "$build_key" ]; then
      echo "figures:$section in $f are stale: the current build ($build_key) prints (> lines; times masked):"
      cat "$tmp/diff"
      echo "run scripts/update_figures.sh $section to rewrite them"
      status=1
    else
      echo "figures:$section in $f differ on this build ($build_key; theirs: $recorded), as expected across GEMM paths:"
      cat "$tmp/diff"
    fi
  done
done
exit $status
