#!/usr/bin/python3
"""make bench-compare: our ViT training step (bench/bench_vit_step.cpp) beside its PyTorch twin
(bench/pytorch_vit_step.py) in ONE run, case by case, so every row is measured under the same
load: Debian's PyTorch (/usr/bin/python3) and, when scripts/install_deps.sh --bench made it, a
current PyTorch from .venv-bench. One table: case, threads, ms per step of each, ratio (ours /
the faster PyTorch) and peak RSS of each. Figures only, never pass/fail.

    bench/compare_vit_step.py [--repeat N] [--precision fp32|bf16|both] BENCH_VIT_STEP
                              [MODEL[:METHOD[:THREADS]] ...]

--precision both (the default) runs every case twice on each side in the same run, in turns:
fp32 (the first table, as it always was) and bf16 (a second table, printed after the first):
ours with `--precision bf16` (train/precision.h: frozen weights stored in bf16, activations in
bf16, float32 masters) beside PyTorch's own CPU mixed precision, the forward under
torch.autocast("cpu", dtype=torch.bfloat16) (pytorch_vit_step.py --precision bf16); its
columns add ours bf16 / ours fp32 for the time and the peak RSS. A PyTorch that cannot run a
bf16 case prints "-" there (its error after the table).

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


def ours(binary, model, method, threads, precision):
    flags = ["--precision", precision] if precision != "fp32" else []
    out = subprocess.run([binary, "--case", model, method, str(threads)] + flags, check=True,
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            ms, _trainable, _total, rss, _m = line.split()[1:6]
            return float(ms), float(rss)
    raise RuntimeError(f"{binary} --case {model} {method} {threads}: no RESULT line")


def pytorch(python, model, method, threads, precision):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               OMP_WAIT_POLICY="passive")
    flags = ["--precision", precision] if precision != "fp32" else []
    out = subprocess.run([python, TWIN, "--case", model, method, str(threads)] + flags,
                         check=True, capture_output=True, text=True, env=env, cwd=ROOT)
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


def median_of(runs):
    """(median ms, largest peak RSS) of (ms, rss) runs; None when a run failed."""
    if any(r is None for r in runs):
        return None
    return statistics.median(ms for ms, _ in runs), max(rss for _, rss in runs)


def header(labels, widths, rss_widths, extra=""):
    line = f"{'case':<22s} {'thr':>3s} {'ours':>8s}"
    for label, w in zip(labels, widths):
        line += f" {label:>{w}s}"
    line += f" {'ratio':>6s} {'RSS ours':>8s}"
    for label, w in zip(labels, rss_widths):
        line += f" {'RSS ' + label:>{w}s}"
    return line + extra


def row(case, threads, mine, theirs, widths, rss_widths):
    """One table line: ours, each PyTorch ("-" where it failed), the ratio, the peak RSS."""
    ms, rss = mine
    line = f"{case:<22s} {threads:3d} {ms:8.1f}"
    for t, w in zip(theirs, widths):
        line += f" {t[0]:{w}.1f}" if t else f" {'-':>{w}s}"
    done = [t[0] for t in theirs if t]
    ratio = ms / min(done) if done else float("nan")
    line += f" {ratio:6.2f} {rss:8.0f}"
    for t, w in zip(theirs, rss_widths):
        line += f" {t[1]:{w}.0f}" if t else f" {'-':>{w}s}"
    return line


def main():
    usage = ("usage: compare_vit_step.py [--repeat N] [--precision fp32|bf16|both] BENCH_VIT_STEP "
             "[MODEL[:METHOD[:THREADS]] ...]")
    args = sys.argv[1:]
    repeat, precisions = 1, ["fp32", "bf16"]
    while len(args) >= 2 and args[0] in ("--repeat", "--precision"):
        if args[0] == "--repeat":
            repeat = int(args[1])
        elif args[1] in ("fp32", "bf16"):
            precisions = [args[1]]
        elif args[1] != "both":
            sys.exit(usage)
        args = args[2:]
    if not args or repeat < 1:
        sys.exit(usage)
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
    labels = [label for label, _ in frameworks]
    widths = [max(8, len(label)) for label in labels]
    rss_widths = [len("RSS " + label) for label in labels]
    summary = (f"on {cpu}, {os.cpu_count()} cores; ratio = ours / the faster PyTorch; RSS = peak "
               "MiB" + (f"; median of {repeat} runs each, in turns" if repeat > 1 else ""))
    if "fp32" in precisions:
        print(f"ViT training step, median ms (lower is better), {summary}")
        print(header(labels, widths, rss_widths))
    bf16_lines, errors = [], []
    for model, method, threads in cases(args[1:]):
        runs = {p: [] for p in precisions}   # per round: [ours, each PyTorch], each (ms, rss)
        for _ in range(repeat):
            for precision in precisions:
                this = [ours(binary, model, method, threads, precision)]
                for label, python in frameworks:
                    try:
                        this.append(pytorch(python, model, method, threads, precision))
                    except subprocess.CalledProcessError as e:
                        if precision == "fp32":
                            raise
                        this.append(None)
                        errors.append(f"{label} {model} {method} {threads} bf16: "
                                      + ((e.stderr or "").strip().splitlines() or ["failed"])[-1])
                runs[precision].append(this)
        medians = {p: [median_of([r[i] for r in runs[p]]) for i in range(len(frameworks) + 1)]
                   for p in precisions}
        case = model + " " + method
        if "fp32" in medians:
            print(row(case, threads, medians["fp32"][0], medians["fp32"][1:], widths,
                      rss_widths), flush=True)
        if "bf16" in medians:
            line = row(case, threads, medians["bf16"][0], medians["bf16"][1:], widths, rss_widths)
            if "fp32" in medians:   # ours bf16 / ours fp32: time and peak RSS
                (b_ms, b_rss), (f_ms, f_rss) = medians["bf16"][0], medians["fp32"][0]
                line += f" {b_ms / f_ms:9.2f} {b_rss / f_rss:10.2f}"
            bf16_lines.append(line)
    if "bf16" in precisions:
        print(f"\nbf16: ours --precision bf16, PyTorch's forward under torch.autocast(\"cpu\", "
              f"bfloat16); median ms, {summary}"
              + ("; x fp32 = ours bf16 / ours fp32 (ms, RSS)" if "fp32" in precisions else ""))
        extra = f" {'ms x fp32':>9s} {'RSS x fp32':>10s}" if "fp32" in precisions else ""
        print(header(labels, widths, rss_widths, extra))
        print("\n".join(bf16_lines))
        for error in errors:
            print(f"  - {error}")


if __name__ == "__main__":
    main()
