#!/usr/bin/env python3
"""The PyTorch side of bench/bench_gpu_vit_step.cpp: the same ViT training steps on the GPU
(forward + cross-entropy + backward + AdamW) in PyTorch with Hugging Face transformers'
ViTForImageClassification, the same rows: ViT-B/16 at 224 px with Neat rank 7 on query and value
(the Neat adapter of tests/parity/make_reference.py, which forms the update the way the authors'
code does: delta^T = neat_B(act(neat_A(W0^T))), then x @ delta^T), LoRA rank 8 (alpha 8) on query
and value and full fine-tuning, and the vit-tiny preset (192 wide, 12 layers, 3 heads) at 224 px
with Neat rank 8; at batch 64 and 256; in float32, with TF32 matmuls and under bf16 autocast (the
loss in float32). Each row runs eagerly, then, as the time budget allows, under torch.compile
(the model compiled; a row whose compile fails prints the error and keeps its eager figures).
Prints a table and `BENCH {json}` lines with "framework": "pytorch" (eager) or
"pytorch-compile". Figures only; random weights (no download).

    python3 bench/pytorch_gpu_vit_step.py [--steps 5] [--batch 64] [--budget-s 200]
                                          [--no-compile] [--profile] [--dry-run]

--budget-s: rows not started within that many seconds print "skipped" (eager rows first, then
the compiled ones, batch 256 and bf16 first; a compiled row starts only with 60 s left).
--dry-run: prints the planned rows and exits, without torch or a GPU.
--profile: after the timed steps, 3 more under torch.profiler; the CUDA kernels' time per op
(the 25 largest) is printed before each eager row's line, beside bench_gpu_vit_step --profile's.

Needs torch with CUDA and transformers; says why and exits 0 without them or without a GPU.
A venv for it: python3 -m venv .venv && .venv/bin/pip install torch transformers
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
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                    "parity"))
    import make_reference as ref  # the Neat and LoRA adapters, in plain torch
    IMPORT_ERROR = None
except ImportError as e:  # the summary says PyTorch was not measured
    IMPORT_ERROR = e

MODELS = {  # transformers.ViTConfig fields; 224 px, patch 16, 10 classes
    "vit-b16": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                    intermediate_size=3072),
    "vit-tiny": dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                     intermediate_size=768),
}
METHODS = [("vit-b16", "neat-qv-r7"), ("vit-b16", "lora-qv-r8"), ("vit-b16", "full"),
           ("vit-tiny", "neat-qv-r8")]
MATHS = ["fp32", "tf32", "bf16"]
COMPILE_SECONDS = 60   # a compiled row starts only with this much of the budget left


def planned_rows(batches, compiled):
    """(model, method, math, batch, mode) in the order they run: every eager row, then the
    compiled ones, the largest batch and bf16 first (the issue's targets)."""
    rows = [(model, method, math, batch, "eager")
            for model, method in METHODS for math in MATHS for batch in batches]
    if compiled:
        rows += [(model, method, math, batch, "compile")
                 for batch in sorted(batches, reverse=True) for math in reversed(MATHS)
                 for model, method in METHODS]
    return rows


def build(model_name, method, batch, device):
    config = transformers.ViTConfig(image_size=224, patch_size=16, num_labels=10,
                                    **MODELS[model_name])
    with torch.device(device):   # initialised on the GPU: seconds less per row
        model = transformers.ViTForImageClassification(config)
    for p in model.parameters():
        p.requires_grad_(method == "full")
    if method != "full":
        names = ref.target_names(model, "qv")
        if len(names) != 2 * config.num_hidden_layers:  # a module naming this script does not know
            sys.exit(f"pytorch_gpu_vit_step: error: found {len(names)} query/value projections "
                     f"in transformers {transformers.__version__}'s ViT, expected "
                     f"{2 * config.num_hidden_layers}: {names[:4]}")
        rank = int(method.rsplit("-r", 1)[1])
        for name in names:
            base = model.get_submodule(name)
            if method.startswith("neat"):
                adapter = ref.NeatLinear(base, rank, 2, "relu", 1.0).to(device)
                torch.nn.init.zeros_(adapter.neat_B.weight)
            else:
                adapter = ref.LoraLinear(base, rank, 8.0).to(device)
                torch.nn.init.zeros_(adapter.lora_B.weight)
            ref.replace(model, name, adapter)
        for p in model.classifier.parameters():
            p.requires_grad_(True)
    model.train()
    gen = torch.Generator().manual_seed(7)
    pixels = torch.randn(batch, 3, 224, 224, generator=gen).to(device)
    labels = torch.randint(0, 10, (batch,), generator=gen).to(device)
    return model, pixels, labels


def run_row(row, steps, profile):
    model_name, method, math, batch, mode = row
    tf32 = math == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=math == "bf16")
    model, pixels, labels = build(model_name, method, batch, torch.device("cuda"))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=1e-2)
    if mode == "compile":
        torch._dynamo.reset()
        forward = torch.compile(model)
    else:
        forward = model

    def step():
        torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast:   # bf16: PyTorch's mixed precision, the float32 loss outside it
            logits = forward(pixel_values=pixels).logits
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1000.0

    for _ in range(3):   # the compile happens in the first
        step()
    torch.cuda.reset_peak_memory_stats()
    ms = statistics.median(step() for _ in range(steps))
    peak_gib = torch.cuda.max_memory_allocated() / 2**30
    if profile and mode == "eager":
        activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=activities) as prof:
            for _ in range(3):
                step()
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25), flush=True)
    count = sum(p.numel() for p in trainable)
    del model, forward, optimizer, pixels, labels
    torch.cuda.empty_cache()
    return ms, peak_gib, count


def row_label(row):
    model, method, math, batch, mode = row
    return f"{model:<8} {method:<11} {math:<5} {batch:5d} {mode:<7}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, action="append",
                        help="a batch size (repeatable; default 64 and 256)")
    parser.add_argument("--budget-s", type=float, default=200)
    parser.add_argument("--no-compile", action="store_true", help="eager rows only")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--dry-run", action="store_true", help="print the planned rows and exit")
    args = parser.parse_args()
    rows = planned_rows(args.batch or [64, 256], not args.no_compile)
    if args.dry_run:
        print(f"pytorch_gpu_vit_step --dry-run: {len(rows)} planned rows, in order "
              f"(budget {args.budget_s:.0f} s)")
        print(f"{'model':<8} {'method':<11} {'math':<5} {'batch':>5} mode")
        for row in rows:
            print(row_label(row).rstrip())
        return
    if IMPORT_ERROR is not None:
        print(f"pytorch_gpu_vit_step: skipped: {IMPORT_ERROR}")
        return
    if not torch.cuda.is_available():
        print("pytorch_gpu_vit_step: skipped: torch sees no CUDA GPU")
        return
    try:
        attention = transformers.ViTConfig()._attn_implementation or "default"
    except AttributeError:
        attention = "default"
    print(f"PyTorch {torch.__version__} + transformers {transformers.__version__} (attention: "
          f"{attention}) on {torch.cuda.get_device_name()}: 224 px, median of {args.steps} steps")
    print(f"{'model':<8} {'method':<11} {'math':<5} {'batch':>5} {'mode':<7} {'ms/step':>9} "
          f"{'images/s':>9} {'peak GiB':>9} {'trainable':>11}")
    start = time.perf_counter()
    for row in rows:
        left = args.budget_s - (time.perf_counter() - start)
        if left <= 0 or (row[4] == "compile" and left < COMPILE_SECONDS):
            print(f"{row_label(row)} skipped: the {args.budget_s:.0f} s budget was spent",
                  flush=True)
            continue
        try:
            ms, peak, trainable = run_row(row, args.steps, args.profile)
        except Exception as e:  # noqa: BLE001  (torch.compile's failures have many types)
            if row[4] != "compile":
                raise
            first = (str(e).strip().splitlines() or [""])[0][:160]
            print(f"{row_label(row)} torch.compile failed, eager figures stand: "
                  f"{type(e).__name__}: {first}", flush=True)
            torch.cuda.empty_cache()
            continue
        model, method, math, batch, mode = row
        images = batch * 1000.0 / ms
        print(f"{row_label(row)} {ms:9.1f} {images:9.1f} {peak:9.2f} {trainable:11d}")
        print("BENCH " + json.dumps({
            "name": "gpu_vit_step", "framework": "pytorch" if mode == "eager" else
            "pytorch-compile", "model": model, "method": method, "math": math, "batch": batch,
            "ms_per_step": round(ms, 2), "images_per_second": round(images, 1),
            "peak_gpu_gib": round(peak, 3), "trainable_params": trainable}), flush=True)


if __name__ == "__main__":
    main()
