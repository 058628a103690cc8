#!/usr/bin/env python3
"""transformers' generate on SmolLM2-135M-Instruct's GGUF weights (gguf-py's dequantization,
float32, eager attention, built as tests/parity/make_smollm2_reference.py builds it): the
prefill and decode speeds to set beside ./generate's on the same machine.

    /usr/bin/python3 -m venv .venv && .venv/bin/pip install torch transformers gguf numpy
    .venv/bin/python bench/pytorch_generate.py --threads 2 --max-new-tokens 64 \\
        data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

Greedy, no stop token. The prefill time runs from generate's start to the first call of a
logits processor (the prompt's forward done); decode is the rest, over max_new_tokens - 1 steps
(the first new token comes from the prefill), as ./generate counts them. One warm-up run first.
"""
import argparse
import os
import sys
import time

import torch
from transformers import LogitsProcessor, LogitsProcessorList

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
from make_smollm2_reference import load_model, tokenizer_of  # noqa: E402


class FirstCall(LogitsProcessor):
    def __init__(self):
        self.at = None

    def __call__(self, input_ids, scores):
        if self.at is None:
            self.at = time.perf_counter()
        return scores


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("gguf", nargs="?", default="data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    parser.add_argument("--prompt", default="The capital of France is")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.gguf)
    tokenizer = tokenizer_of(args.gguf)
    ids = torch.tensor([tokenizer(args.prompt, add_special_tokens=False)["input_ids"]])
    for run in ("warm-up", "timed"):
        first = FirstCall()
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=args.max_new_tokens,
                                 logits_processor=LogitsProcessorList([first]))
        end = time.perf_counter()
    new = out.shape[1] - ids.shape[1]
    print(repr(tokenizer.decode(out[0, ids.shape[1]:])))
    import transformers
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, "
          f"{args.threads} threads: prefill "
          f"{ids.shape[1]} tokens, {ids.shape[1] / (first.at - start):.1f} tokens/s; decode "
          f"{new - 1} tokens, {(new - 1) / (end - first.at):.1f} tokens/s")


if __name__ == "__main__":
    main()
