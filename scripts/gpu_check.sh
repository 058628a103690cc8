#!/usr/bin/env bash
# The one command for a GPU machine: builds with every core (a no-op for a build folder carried
# from a machine with nvcc), runs the CUDA test cases (every op of the op table against the CPU,
# the tiny-ViT steps and 20-step curves, the allocator, train_vit --device cuda with resume),
# then the ViT-B/16 step benchmark (Neat rank 7 qv and full, float32 and TF32) in neat.cpp and,
# when `python3 -c "import torch, transformers"` works, in PyTorch in the same run. Prints one
# summary table; the full log goes to LOG_DIR (default gpu_check_logs/). Exit status: the tests'.
# --prebuilt runs the programs built on another machine and carried here (build/run_tests,
# build/bench/bench_gpu_vit_step, ./train_vit) without make, whose object files stayed behind.
#
#   scripts/gpu_check.sh [--prebuilt] [LOG_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
prebuilt=0
if [ "${1:-}" = "--prebuilt" ]; then prebuilt=1; shift; fi
log_dir=${1:-gpu_check_logs}
mkdir -p "$log_dir"
log=$log_dir/gpu_check.log
: >"$log"
say() { echo "$@" | tee -a "$log"; }

say "== gpu_check $(date -u +%FT%TZ) on $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$log"

programs="build/run_tests train_vit build/bench/bench_gpu_vit_step"
if [ $prebuilt = 1 ]; then
  say "== prebuilt programs (no build)"
  for p in $programs; do
    if [ ! -x "$p" ]; then say "gpu_check: --prebuilt: $p is missing"; exit 1; fi
  done
else
  say "== build (make -j$(nproc))"
fi
if [ $prebuilt = 0 ] && ! make -j"$(nproc)" $programs >>"$log" 2>&1; then
  tail -30 "$log"
  say "gpu_check: the build failed (log: $log)"
  exit 1
fi
grep -m1 "neat.cpp: CUDA" "$log" || true

say "== CUDA tests"
build/run_tests -tc="cuda:*,op table: every other device against the CPU" >"$log_dir/tests.log" 2>&1
tests_status=$?
cat "$log_dir/tests.log" >>"$log"
tests_line=$(tail -1 "$log_dir/tests.log")
say "$tests_line"
if [ $tests_status -ne 0 ]; then grep -E "ERROR|CHECK|skipped" "$log_dir/tests.log" | head -40; fi

say "== neat.cpp benchmark"
timeout 300 build/bench/bench_gpu_vit_step 2>&1 | tee "$log_dir/bench_neat.log" >>"$log"
say "== PyTorch benchmark"
if python3 -c "import torch, transformers" >/dev/null 2>&1; then
  timeout 240 python3 bench/pytorch_gpu_vit_step.py 2>&1 | tee "$log_dir/bench_pytorch.log" >>"$log"
else
  echo "pytorch: skipped: python3 cannot import torch and transformers" | tee "$log_dir/bench_pytorch.log" >>"$log"
fi

say ""
say "== summary (ViT-B/16, 224 px, batch 64; images/s, higher is better)"
python3 - "$log_dir/bench_neat.log" "$log_dir/bench_pytorch.log" <<'PY' | tee -a "$log"
import json, sys
rows = {}
for path in sys.argv[1:]:
    for line in open(path, errors="replace"):
        if line.startswith("BENCH "):
            b = json.loads(line[6:])
            rows.setdefault((b["method"], b["math"]), {})[b["framework"]] = b
print(f"{'method':<11} {'math':<5} {'neat.cpp img/s':>14} {'GiB':>6} {'PyTorch img/s':>14} {'GiB':>6} {'ratio':>6}")
for (method, math), r in rows.items():
    ours, theirs = r.get("neat.cpp"), r.get("pytorch")
    ratio = f"{ours['images_per_second'] / theirs['images_per_second']:.2f}" if ours and theirs else "-"
    cell = lambda b, k, f: (f % b[k]) if b else "-"
    print(f"{method:<11} {math:<5} {cell(ours, 'images_per_second', '%.1f'):>14} {cell(ours, 'peak_gpu_gib', '%.2f'):>6} "
          f"{cell(theirs, 'images_per_second', '%.1f'):>14} {cell(theirs, 'peak_gpu_gib', '%.2f'):>6} {ratio:>6}")
if not rows:
    print("(no benchmark figures: see the log)")
PY
say "tests: $tests_line   (full log: $log)"
exit $tests_status
