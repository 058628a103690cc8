#!/usr/bin/python3
"""The PyTorch side of bench/bench_vit_step.cpp: the same ViT training step (forward +
cross-entropy + backward + AdamW), models, batches, methods, threads and timing rule, printing
the same table and `BENCH {json}` lines with "framework": "pytorch", so the two can be compared
on one machine. Figures only. Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 bench/pytorch_vit_step.py                             # every case
    /usr/bin/python3 bench/pytorch_vit_step.py --case cifar-vit neat-qv 1  # one (the driver's)
    /usr/bin/python3 bench/pytorch_vit_step.py --precision bf16            # under CPU bf16 autocast

--precision bf16 runs the forward under torch.autocast("cpu", dtype=torch.bfloat16) (PyTorch's
own CPU mixed precision: weights stay float32 and are cast per op, the GEMMs take bf16 operands)
and the loss in float32 outside it, as bench_vit_step --precision bf16 is compared against.

The ViT, LoRA and the target matching are tests/parity/make_reference.py's (Hugging Face's
ViTForImageClassification written in plain torch). Neat there forms the full [IN, OUT] update
each forward (x @ neat_B(M)); here it is factored as the C++ op computes it, (x M) B^T, so both
sides do the same arithmetic. Each case runs in a fresh child process, for its own peak RSS,
with OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads and OMP_WAIT_POLICY=passive (see
run_child: PyTorch's best setting on this machine).
"""
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "parity"))
import make_reference as ref  # noqa: E402  (the plain-torch ViT and adapters)

CIFAR = dict(image_size=32, patch_size=4, channels=3, hidden=192, depth=6, heads=3, mlp_dim=768,
             num_classes=10, layer_norm_eps=1e-12)
VIT_B_1L = dict(image_size=224, patch_size=16, channels=3, hidden=768, depth=1, heads=12,
                mlp_dim=3072, num_classes=10, layer_norm_eps=1e-12)
MODELS = {"cifar-vit": (CIFAR, 32), "vit-b16-1L": (VIT_B_1L, 4)}
METHODS = {  # full first: it is every other row's reference
    "full": dict(method="full"),
    "head": dict(method="head"),
    "lora-qv": dict(method="lora", targets="qv", rank=8, alpha=8.0),
    "neat-qv": dict(method="neat", targets="qv", rank=8, depth=2, activation="relu", scale=1.0),
    "neat-qvmlp": dict(method="neat", targets="qvmlp", rank=8, depth=2, activation="relu",
                       scale=1.0),
}


class FactoredNeat(ref.NeatLinear):
    """y = x W0^T + b + s (x M) B^T: make_reference's Neat with the update kept factored."""

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + self.scale * self.neat_B(x @ self.m())


def attach(model, case):
    """Wraps the targets (kaiming-uniform A, zero B like the C++ layers), freezes the rest."""
    method = case["method"]
    for p in model.parameters():
        p.requires_grad_(method == "full")
    if method in ("neat", "lora"):
        for name in ref.target_names(model, case["targets"]):
            base = model.get_submodule(name)
            if method == "neat":
                adapter = FactoredNeat(base, case["rank"], case["depth"], case["activation"],
                                       case["scale"])
            else:
                adapter = ref.LoraLinear(base, case["rank"], case["alpha"])
            for pname, p in adapter.named_parameters():
                if pname.endswith("_B.weight"):
                    torch.nn.init.zeros_(p)
            ref.replace(model, name, adapter)
    for name, p in model.named_parameters():
        if name.startswith("classifier."):
            p.requires_grad_(True)


def median_ms(timed_run, warmup, budget_ms):
    """Median of the ms timed_run() reports, after warmup calls: at least 3 calls, more while
    within budget (at most 15)."""
    for _ in range(warmup):
        timed_run()
    times = []
    while len(times) < 3 or (sum(times) < budget_ms and len(times) < 15):
        times.append(timed_run())
    return statistics.median(times)


def ms_since(start):
    return (time.perf_counter() - start) * 1000


def autocast(precision):
    """The context the forward runs in: nothing for fp32, CPU bf16 autocast for bf16."""
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def run_case(model_name, method_name, threads, precision="fp32"):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config, batch = MODELS[model_name]
    model = ref.ViTForImageClassification(config)
    attach(model, METHODS[method_name])
    model.train()
    pixels = torch.randn(batch, config["channels"], config["image_size"], config["image_size"])
    labels = torch.randint(0, config["num_classes"], (batch,))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=1e-2)

    def step():
        start = time.perf_counter()
        with autocast(precision):
            logits = model(pixels)
        loss = F.cross_entropy(logits.float(), labels)   # float32 logits: a no-op in fp32
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return ms_since(start)

    ms = median_ms(step, warmup=2, budget_ms=1000)
    neats = [m for m in model.modules() if isinstance(m, FactoredNeat)]
    m_ms = -1.0
    if neats:  # the M network per step: m(), then the backward of one row (untimed forward)
        rows = [torch.randn(1, m.weight.shape[1]) for m in neats]

        def m_step():
            ms = 0.0
            for layer, row in zip(neats, rows):
                start = time.perf_counter()
                with autocast(precision):
                    layer.m()
                ms += ms_since(start)
                with autocast(precision):
                    y = layer(row).float().sum()
                start = time.perf_counter()
                y.backward()
                ms += ms_since(start)
            return ms

        m_ms = median_ms(m_step, warmup=1, budget_ms=300)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return dict(ms=ms, trainable=sum(p.numel() for p in trainable),
                total=sum(p.numel() for p in model.parameters()), rss_mib=rss_mib, m_ms=m_ms)


def run_child(model_name, method_name, threads, precision):
    # Debian's torch does its GEMMs in OpenBLAS (pthreads, its own pool, all cores unless told)
    # and the rest in OpenMP: both pools get `threads`, and OpenMP's idle threads sleep instead
    # of spinning, else the two pools fight over 2 cores and 2 threads run slower than 1.
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               OMP_WAIT_POLICY="passive")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--case", model_name,
                          method_name, str(threads), "--precision", precision], check=True,
                         capture_output=True, text=True, env=env)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"case {model_name} {method_name} {threads}: no RESULT line")


def print_model(model_name, thread_counts, results, precision):
    c, batch = MODELS[model_name]
    tokens = (c["image_size"] // c["patch_size"]) ** 2 + 1
    print(f"\n{model_name}: image {c['image_size']}, patch {c['patch_size']} ({tokens} tokens), "
          f"hidden {c['hidden']}, depth {c['depth']}, heads {c['heads']}, mlp {c['mlp_dim']}, "
          f"batch {batch}")
    print(f"{'method':11s} {'thr':>3s} {'ms/step':>9s} {'images/s':>9s} {'x full':>7s} "
          f"{'speedup':>8s} {'trainable':>11s} {'peakMiB':>8s} {'Neat M ms':>10s} {'M/step':>7s}")
    for threads in thread_counts:
        full = results["full", threads]["ms"]
        for method in METHODS:
            r = results[method, threads]
            speedup = results[method, 1]["ms"] / r["ms"]
            images = batch * 1000.0 / r["ms"]
            has_m = r["m_ms"] >= 0
            m_col = f"{r['m_ms']:.2f}" if has_m else "-"
            share = f"{100 * r['m_ms'] / r['ms']:.1f}%" if has_m else "-"
            print(f"{method:11s} {threads:3d} {r['ms']:9.1f} {images:9.1f} {r['ms'] / full:7.2f} "
                  f"{speedup:8.2f} {r['trainable']:11,d} {r['rss_mib']:8.0f} {m_col:>10s} "
                  f"{share:>7s}")
            row = dict(name="vit_step", framework="pytorch", model=model_name, method=method,
                       precision=precision, threads=threads, batch=batch, ms_per_step=round(r["ms"], 2),
                       images_per_second=round(images, 2), ref_ms_per_step=round(full, 2),
                       ratio_to_full=round(r["ms"] / full, 3),
                       speedup_vs_1_thread=round(speedup, 2), trainable_params=r["trainable"],
                       total_params=r["total"], peak_rss_mib=round(r["rss_mib"], 1),
                       neat_m_ms=round(r["m_ms"], 3) if has_m else None)
            print("BENCH " + json.dumps(row, separators=(",", ":")))
    sys.stdout.flush()


def main():
    usage = "usage: pytorch_vit_step.py [--case MODEL METHOD THREADS] [--precision fp32|bf16]"
    args = sys.argv[1:]
    precision = "fp32"
    if len(args) >= 2 and args[-2] == "--precision":
        precision = args[-1]
        args = args[:-2]
        if precision not in ("fp32", "bf16"):
            sys.exit(usage)
    if len(args) == 4 and args[0] == "--case":
        result = run_case(args[1], args[2], int(args[3]), precision)
        print("RESULT " + json.dumps(result))
        return
    if args:
        sys.exit(usage)
    max_threads = os.cpu_count() or 1
    thread_counts = [max_threads] + ([1] if max_threads > 1 else [])
    print(f"PyTorch {torch.__version__}, {precision}: ViT training step (forward + cross-entropy + backward + "
          "AdamW), median ms; x full = ms / full's ms at the same threads;\nspeedup = ms at 1 "
          "thread / ms; Neat M ms = the M network's forward + backward per step (all adapted "
          "layers)")
    for model_name in MODELS:
        results = {(method, threads): run_child(model_name, method, threads, precision)
                   for threads in thread_counts for method in METHODS}
        print_model(model_name, thread_counts, results, precision)


if __name__ == "__main__":
    main()
