#!/usr/bin/env python3
"""The PyTorch side of bench/bench_gpu_vit_step.cpp: the same ViT-B/16 training step on the GPU
(224 px, batch 64, forward + cross-entropy + backward + AdamW) in PyTorch with Hugging Face
transformers' ViTForImageClassification, for Neat rank 7 on query and value (the Neat adapter of
tests/parity/make_reference.py, which forms the update the way the authors' code does:
delta^T = neat_B(act(neat_A(W0^T))), then x @ delta^T) and for full fine-tuning, in float32,
with TF32 matmuls and under bf16 autocast (the loss in float32). Prints the same table and `BENCH {json}` lines with "framework": "pytorch".
Figures only; random weights (no download).

    python3 bench/pytorch_gpu_vit_step.py [--steps 10] [--batch 64] [--profile]

--profile: after the timed steps, 3 more under torch.profiler; the CUDA kernels' time per op
(the 25 largest) is printed before each case's line, beside bench_gpu_vit_step --profile's table.

Needs torch with CUDA and transformers; says why and exits 0 without them or without a GPU.
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    import transformers
except ImportError as e:  # the summary says PyTorch was not measured
    print(f"pytorch_gpu_vit_step: skipped: {e}")
    sys.exit(0)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "parity"))
import make_reference as ref  # noqa: E402  (the Neat adapter, in plain torch)


def build(method, batch, device):
    config = transformers.ViTConfig(image_size=224, patch_size=16, num_labels=10)
    model = transformers.ViTForImageClassification(config).to(device)
    for p in model.parameters():
        p.requires_grad_(method == "full")
    if method == "neat-qv-r7":
        names = ref.target_names(model, "qv")
        if len(names) != 2 * config.num_hidden_layers:  # a module naming this script does not know
            sys.exit(f"pytorch_gpu_vit_step: error: found {len(names)} query/value projections "
                     f"in transformers {transformers.__version__}'s ViT, expected "
                     f"{2 * config.num_hidden_layers}: {names[:4]}")
        for name in names:
            adapter = ref.NeatLinear(model.get_submodule(name), 7, 2, "relu", 1.0).to(device)
            torch.nn.init.zeros_(adapter.neat_B.weight)
            ref.replace(model, name, adapter)
        for p in model.classifier.parameters():
            p.requires_grad_(True)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=1e-2)
    gen = torch.Generator().manual_seed(7)
    pixels = torch.randn(batch, 3, 224, 224, generator=gen).to(device)
    labels = torch.randint(0, 10, (batch,), generator=gen).to(device)
    return model, optimizer, pixels, labels, sum(p.numel() for p in trainable)


def run_case(method, math, batch, steps, profile):
    tf32 = math == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=math == "bf16")
    device = torch.device("cuda")
    model, optimizer, pixels, labels, trainable = build(method, batch, device)

    def step():
        torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast:   # bf16: PyTorch's mixed precision, the float32 loss outside it
            logits = model(pixel_values=pixels).logits
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1000.0

    for _ in range(3):
        step()
    torch.cuda.reset_peak_memory_stats()
    ms = statistics.median(step() for _ in range(steps))
    peak_gib = torch.cuda.max_memory_allocated() / 2**30
    if profile:
        activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=activities) as prof:
            for _ in range(3):
                step()
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25), flush=True)
    del model, optimizer, pixels, labels
    torch.cuda.empty_cache()
    return ms, peak_gib, trainable


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("pytorch_gpu_vit_step: skipped: torch sees no CUDA GPU")
        return
    try:
        attention = transformers.ViTConfig()._attn_implementation or "default"
    except AttributeError:
        attention = "default"
    print(f"PyTorch {torch.__version__} + transformers {transformers.__version__} (attention: "
          f"{attention}) on {torch.cuda.get_device_name()}: ViT-B/16, 224 px, batch "
          f"{args.batch}, median of {args.steps} steps")
    print(f"{'method':<11} {'math':<8} {'ms/step':>9} {'images/s':>9} {'peak GiB':>9} {'trainable':>11}")
    for method, math in [(m, x) for m in ("neat-qv-r7", "full") for x in ("fp32", "tf32", "bf16")]:
        ms, peak, trainable = run_case(method, math, args.batch, args.steps, args.profile)
        images = args.batch * 1000.0 / ms
        print(f"{method:<11} {math:<8} {ms:9.1f} {images:9.1f} {peak:9.2f} {trainable:11d}")
        print("BENCH " + json.dumps({
            "name": "gpu_vit_step", "framework": "pytorch", "model": "vit-b16", "method": method,
            "math": math, "batch": args.batch, "ms_per_step": round(ms, 2),
            "images_per_second": round(images, 1), "peak_gpu_gib": round(peak, 3),
            "trainable_params": trainable}), flush=True)


if __name__ == "__main__":
    main()
