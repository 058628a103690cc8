#!/usr/bin/env bash
# The one command for a GPU machine: builds with every core (a no-op for a build folder carried
# from a machine with nvcc), runs the CUDA test cases (every op of the op table against the CPU,
# the tiny-ViT steps and 20-step curves, the allocator, train_vit --device cuda with resume),
# then the training-step benchmark of issue 27's table in neat.cpp (bench_gpu_vit_step) and,
# when `python3 -c "import torch, transformers"` works, in PyTorch in the same run (eager, then
# torch.compile as its budget allows): ViT-B/16 at 224 px (neat-qv-r7, lora-qv-r8, full) and the
# vit-tiny preset at 224 px (neat-qv-r8), batch 64 and 256, fp32 / tf32 / bf16. Prints one
# summary table (bench/gpu_check_summary.py: images/s, peak GiB, our MFU, the ratios); the logs
# go to LOG_DIR (default gpu_check_logs/), which it names. Exit status: the tests'.
# Time: each benchmark has a budget after which its rows print "skipped" (ours 150 s, PyTorch
# 200 s) and a timeout above it, so that tests + benchmarks stay under ~8 minutes on an H100
# (the build, when not --prebuilt, comes on top).
# --prebuilt runs the programs built on another machine and carried here (build/run_tests,
# build/bench/bench_gpu_vit_step, ./train_vit) without make, whose object files stayed behind.
#
#   scripts/gpu_check.sh [--prebuilt] [LOG_DIR]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
prebuilt=0
if [ "${1:-}" = "--prebuilt" ]; then prebuilt=1; shift; fi
log_dir=${1:-gpu_check_logs}
mkdir -p "$log_dir"
log=$log_dir/gpu_check.log
: >"$log"
say() { echo "$@" | tee -a "$log"; }

say "== gpu_check $(date -u +%FT%TZ) on $(hostname), logs in $log_dir/"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$log"

programs=(build/run_tests train_vit build/bench/bench_gpu_vit_step)
if [ $prebuilt = 1 ]; then
  say "== prebuilt programs (no build)"
  for p in "${programs[@]}"; do
    if [ ! -x "$p" ]; then say "gpu_check: --prebuilt: $p is missing"; exit 1; fi
  done
else
  say "== build (make -j$(nproc))"
fi
if [ $prebuilt = 0 ] && ! make -j"$(nproc)" "${programs[@]}" >>"$log" 2>&1; then
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

say "== neat.cpp benchmark ($((SECONDS / 60)) min $((SECONDS % 60)) s so far)"
timeout 200 build/bench/bench_gpu_vit_step --budget-s 150 2>&1 | tee "$log_dir/bench_neat.log" >>"$log"
say "== PyTorch benchmark ($((SECONDS / 60)) min $((SECONDS % 60)) s so far)"
if python3 -c "import torch, transformers" >/dev/null 2>&1; then
  timeout 260 python3 bench/pytorch_gpu_vit_step.py --budget-s 200 2>&1 | tee "$log_dir/bench_pytorch.log" >>"$log"
else
  echo "pytorch: skipped: python3 cannot import torch and transformers" | tee "$log_dir/bench_pytorch.log" >>"$log"
fi

say ""
say "== summary (224 px; images/s, higher is better; ratio = ours / PyTorch's)"
python3 bench/gpu_check_summary.py "$log_dir/bench_neat.log" "$log_dir/bench_pytorch.log" | tee -a "$log"
say "tests: $tests_line   (full log: $log; $((SECONDS / 60)) min $((SECONDS % 60)) s in all)"
exit $tests_status
