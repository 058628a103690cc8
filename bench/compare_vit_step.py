#!/usr/bin/python3
"""make bench-compare: our ViT training step (bench/bench_vit_step.cpp) beside its PyTorch twin
(bench/pytorch_vit_step.py) in ONE run, case by case, so every row is measured under the same
load: Debian's PyTorch (/usr/bin/python3) and, when scripts/install_deps.sh --bench made it, a
current PyTorch from .venv-bench. One table: case, threads, ms per step of each, ratio (ours /
the faster PyTorch) and peak RSS of each. Figures only, never pass/fail.

    bench/compare_vit_step.py [--repeat N] BENCH_VIT_STEP [MODEL[:METHOD[:THREADS]] ...]

With no case every model x method at 1 thread and at all cores; "cifar-vit" alone is each of
its methods and thread counts, "cifar-vit:neat-qv:1" one row. Each case is a fresh process on
each side (its own peak RSS); PyTorch's cases run as pytorch_vit_step.py's driver runs them
(OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads, OMP_WAIT_POLICY=passive). --repeat N
runs each case's processes N times, in turns (ours, each PyTorch, ours, ...), and reports each
side's median: on a shared machine a single run can be off by 2x.
"""
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TWIN = os.path.join(ROOT, "bench", "pytorch_vit_step.py")
VENV_PYTHON = os.path.join(ROOT, ".venv-bench", "bin", "python")
MODELS = ["cifar-vit", "vit-b16-1L"]
METHODS = ["full", "head", "lora-qv", "neat-qv", "neat-qvmlp"]


def torch_version(python):
    out = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def ours(binary, model, method, threads):
    out = subprocess.run([binary, "--case", model, method, str(threads)], check=True,
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            ms, _trainable, _total, rss, _m = line.split()[1:6]
            return float(ms), float(rss)
    raise RuntimeError(f"{binary} --case {model} {method} {threads}: no RESULT line")


def pytorch(python, model, method, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               OMP_WAIT_POLICY="passive")
    out = subprocess.run([python, TWIN, "--case", model, method, str(threads)], check=True,
                         capture_output=True, text=True, env=env, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[len("RESULT "):])
            return r["ms"], r["rss_mib"]
    raise RuntimeError(f"{python} {TWIN} --case {model} {method} {threads}: no RESULT line")


def cases(specs):
    all_threads = [os.cpu_count() or 1] + ([1] if (os.cpu_count() or 1) > 1 else [])
    if not specs:
        specs = MODELS
    for spec in specs:
        parts = spec.split(":")
        if parts[0] not in MODELS or len(parts) > 3 or (len(parts) > 1 and parts[1] not in METHODS):
            sys.exit(f"compare_vit_step: unknown case '{spec}'; models {MODELS}, methods "
                     f"{METHODS}, written MODEL[:METHOD[:THREADS]]")
        methods = [parts[1]] if len(parts) > 1 else METHODS
        threads = [int(parts[2])] if len(parts) > 2 else all_threads
        for t in threads:
            for m in methods:
                yield parts[0], m, t


def main():
    args = sys.argv[1:]
    repeat = 1
    if len(args) >= 2 and args[0] == "--repeat":
        repeat = int(args[1])
        args = args[2:]
    if not args or repeat < 1:
        sys.exit("usage: compare_vit_step.py [--repeat N] BENCH_VIT_STEP [MODEL[:METHOD[:THREADS]] ...]")
    binary = args[0]
    frameworks = []   # (label, python)
    for python in ["/usr/bin/python3", VENV_PYTHON]:
        if os.path.exists(python):
            version = torch_version(python)
            if version:
                frameworks.append((f"torch {version}", python))
    if not any(p == VENV_PYTHON for _, p in frameworks):
        print("(no .venv-bench with torch: scripts/install_deps.sh --bench makes one with a "
              "current PyTorch)")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "unknown CPU")
    print(f"ViT training step, median ms (lower is better), on {cpu}, "
          f"{os.cpu_count()} cores; ratio = ours / the faster PyTorch; RSS = peak MiB"
          + (f"; median of {repeat} runs each, in turns" if repeat > 1 else ""))
    widths = [max(8, len(label)) for label, _ in frameworks]
    rss_widths = [len("RSS " + label) for label, _ in frameworks]
    header = f"{'case':<22s} {'thr':>3s} {'ours':>8s}"
    for (label, _), w in zip(frameworks, widths):
        header += f" {label:>{w}s}"
    header += f" {'ratio':>6s} {'RSS ours':>8s}"
    for (label, _), w in zip(frameworks, rss_widths):
        header += f" {'RSS ' + label:>{w}s}"
    print(header)
    for model, method, threads in cases(args[1:]):
        runs = []   # per round: [ours, each PyTorch], each (ms, rss)
        for _ in range(repeat):
            runs.append([ours(binary, model, method, threads)] +
                        [pytorch(python, model, method, threads) for _, python in frameworks])
        medians = [(statistics.median(r[i][0] for r in runs), max(r[i][1] for r in runs))
                   for i in range(len(runs[0]))]
        (ms, rss), theirs = medians[0], medians[1:]
        line = f"{model + ' ' + method:<22s} {threads:3d} {ms:8.1f}"
        for (t_ms, _), w in zip(theirs, widths):
            line += f" {t_ms:{w}.1f}"
        ratio = ms / min(t for t, _ in theirs) if theirs else float("nan")
        line += f" {ratio:6.2f} {rss:8.0f}"
        for (_, t_rss), w in zip(theirs, rss_widths):
            line += f" {t_rss:{w}.0f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
