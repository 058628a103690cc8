#!/bin/sh
# Regenerates tests/parity/peft_reference.safetensors with Hugging Face peft (not needed by
# `make test`; the output is committed). Creates .venv/ in the repository root with PyPI's torch,
# transformers and peft on the first run. Extra arguments go to peft_reference.py, e.g.
#   tests/parity/make_peft_reference.sh --interop /tmp/peft_interop   (needs make first)
set -e
cd "$(dirname "$0")/../.."
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
  # transformers 5 renamed ViT's modules (q_proj, fc1, ...); ours are the 4.x names the Hub files use.
  nice -n 10 .venv/bin/pip install -q torch "transformers<5" peft safetensors numpy
fi
exec nice -n 10 .venv/bin/python tests/parity/peft_reference.py "$@"
