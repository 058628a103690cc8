#!/usr/bin/env python3
"""transformers + peft's LoRA: one causal-LM fine-tuning step of SmolLM2-135M-Instruct on its
GGUF weights dequantized to float32 (gguf-py, built as tests/parity/make_smollm2_reference.py
builds it), to set beside build/bench/bench_lm_step on the same machine:

    /usr/bin/python3 -m venv .venv && .venv/bin/pip install torch transformers peft gguf numpy
    .venv/bin/python bench/pytorch_lm_step.py --threads 2 --batch 8 --seq 256

The same step as bench_lm_step: B x N random tokens (seed 1), labels = input_ids (the loss on
every position, transformers' full [B, N, V] logits), backward, torch.optim.AdamW over the
adapters; LoRA r 8, alpha 16 on q, k, v, up and down (LLM-Adapters' targets). One warm-up step,
then the median of --steps. Peak RSS: getrusage's ru_maxrss of this process.
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
from make_smollm2_reference import load_model  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("gguf", nargs="?", default="data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--attn", default="sdpa", help="eager or sdpa (torch's fused attention)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from peft import LoraConfig, get_peft_model
    model = load_model(args.gguf)
    model.config._attn_implementation = args.attn
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=[
        "q_proj", "k_proj", "v_proj", "up_proj", "down_proj"]))
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4,
                                  weight_decay=0.0)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, model.config.vocab_size, (args.batch, args.seq), generator=gen)
    times = []
    for step in range(args.steps + 1):
        start = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step > 0:
            times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1e3
    import peft
    import transformers
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"transformers {transformers.__version__} + peft {peft.__version__} lora ({args.attn}), "
          f"torch {torch.__version__}, batch {args.batch} x {args.seq} tokens, {args.threads} "
          f"threads: {ms:.0f} ms/step (median of {args.steps}; "
          f"{args.batch * args.seq / ms * 1e3:.0f} tokens/s), trainable {trainable}, "
          f"peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
