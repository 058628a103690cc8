#!/usr/bin/env python3
"""scripts/gpu_check.sh's summary: one table from the `BENCH {json}` lines of
bench_gpu_vit_step (neat.cpp) and pytorch_gpu_vit_step.py (PyTorch eager and torch.compile), a
row per model x method x math x batch: images/s (higher is better), peak GiB, our MFU, and the
ratios ours / eager and ours / compiled. Then the lines that say a row was skipped or a compile
failed. Figures only.

    python3 bench/gpu_check_summary.py LOG ...
"""
import json
import sys


def read(paths):
    """{(model, method, math, batch): {framework: row}} in the order rows first appear, and the
    skip / failure lines."""
    rows, notes = {}, []
    for path in paths:
        try:
            lines = open(path, errors="replace").read().splitlines()
        except OSError as e:
            notes.append(f"{path}: {e.strerror}")
            continue
        for line in lines:
            if line.startswith("BENCH "):
                b = json.loads(line[len("BENCH "):])
                key = (b.get("model", "vit-b16"), b["method"], b["math"], b.get("batch", 64))
                rows.setdefault(key, {})[b["framework"]] = b
            elif "skipped" in line or "torch.compile failed" in line:
                notes.append(line.strip())
    return rows, notes


def cell(row, key, fmt):
    return fmt % row[key] if row and row.get(key) is not None else "-"


def ratio(ours, theirs):
    if not ours or not theirs:
        return "-"
    return f"{ours['images_per_second'] / theirs['images_per_second']:.2f}"


def main():
    rows, notes = read(sys.argv[1:])
    print(f"{'model':<8} {'method':<11} {'math':<5} {'batch':>5} | {'ours img/s':>10} {'GiB':>6} "
          f"{'MFU':>6} | {'eager img/s':>11} {'GiB':>6} {'ratio':>5} | {'compile img/s':>13} "
          f"{'GiB':>6} {'ratio':>5}")
    for (model, method, math, batch), r in rows.items():
        ours, eager, compiled = r.get("neat.cpp"), r.get("pytorch"), r.get("pytorch-compile")
        mfu = f"{100 * ours['mfu']:.1f}%" if ours and ours.get("mfu") is not None else (
            "n/a" if ours else "-")
        print(f"{model:<8} {method:<11} {math:<5} {batch:5d} | "
              f"{cell(ours, 'images_per_second', '%.1f'):>10} {cell(ours, 'peak_gpu_gib', '%.2f'):>6} "
              f"{mfu:>6} | {cell(eager, 'images_per_second', '%.1f'):>11} "
              f"{cell(eager, 'peak_gpu_gib', '%.2f'):>6} {ratio(ours, eager):>5} | "
              f"{cell(compiled, 'images_per_second', '%.1f'):>13} "
              f"{cell(compiled, 'peak_gpu_gib', '%.2f'):>6} {ratio(ours, compiled):>5}")
    if not rows:
        print("(no benchmark figures: see the log)")
    for note in notes:
        print(f"  {note}")


if __name__ == "__main__":
    main()
