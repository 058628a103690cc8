#!/usr/bin/python3
"""Checks ./vit_step against PyTorch in float64 on many configurations (a tool, not a test).

Run from the repository root after `make`, with Debian's python3-torch:

    /usr/bin/python3 tests/parity/check_vit_step.py            # every case below
    /usr/bin/python3 tests/parity/check_vit_step.py lora odd   # cases whose name has a word

For each case it builds the plain-torch twin of HF's ViTForImageClassification from
make_reference.py in float64 with random float64 weights (not float32-representable, so a
float32 detour anywhere shows), writes the weights (HF names), an adapter file (peft-style
names, B non-zero) and a batch (float64 pixel_values, int64 labels) to a temporary folder, runs

    ./vit_step --dtype f64 --weights base.safetensors --adapter adapter.safetensors \
               --batch batch.safetensors --out step.safetensors <the case's flags>

and compares logits, loss and every grad.<name> with torch's, to 1e-10 relative to each
tensor's own largest value (at least FLOOR). Two cases write the weights as a published file would hold them:
google/vit-base-patch16-224-in21k's layout (no "vit." prefix, a pooler, no classifier), and
position embeddings for another image size, which vit_step must resize as HF's
interpolate_pos_encoding does. It also checks what vit_step does without --adapter: B starts at
zero (logits equal the plain backbone's, A's gradient is zero) and the names it writes.
Prints one line per case and exits 1 if any case fails.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference as ref  # noqa: E402  (the torch ViT, adapters and target matching)

TOLERANCE = 1e-10
VIT_STEP = os.path.join(os.getcwd(), "vit_step")
DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}

# Model: image, patch, channels, dim, depth, heads, mlp, classes, batch. Method: as vit_step's
# flags (neat: rank, depth, act, targets, scale; lora: r, alpha, targets).
SMALL = dict(image=8, patch=4, channels=3, dim=16, depth=2, heads=2, mlp=32, classes=5, batch=3)
CASES = [
    dict(name="neat relu d2 qv", model=SMALL, method="neat", rank=3, ndepth=2, act="relu",
         targets="qv", scale=1.0),
    dict(name="neat sin2pi d4 qvmlp", model=SMALL, method="neat", rank=3, ndepth=4, act="sin2pi",
         targets="qvmlp", scale=0.3),
    dict(name="neat gelu d6 qv", model=SMALL, method="neat", rank=2, ndepth=6, act="gelu",
         targets="qv", scale=1.7),
    dict(name="neat tanh d2 qvmlp", model=SMALL, method="neat", rank=4, ndepth=2, act="tanh",
         targets="qvmlp", scale=2.0),
    dict(name="neat identity d4 qv", model=SMALL, method="neat", rank=3, ndepth=4,
         act="identity", targets="qv", scale=0.5),
    dict(name="neat gelu d6 qvmlp", model=SMALL, method="neat", rank=2, ndepth=6, act="gelu",
         targets="qvmlp", scale=1.0),
    dict(name="lora qv alpha 5 r 3", model=SMALL, method="lora", rank=3, alpha=5.0,
         targets="qv"),
    dict(name="lora qvmlp alpha 1 r 2", model=SMALL, method="lora", rank=2, alpha=1.0,
         targets="qvmlp"),
    dict(name="head", model=SMALL, method="head"),
    dict(name="full", model=SMALL, method="full"),
    dict(name="odd 12px ch1 heads3 depth1 7 classes batch1",
         model=dict(image=12, patch=4, channels=1, dim=12, depth=1, heads=3, mlp=20, classes=7,
                    batch=1),
         method="neat", rank=5, ndepth=4, act="tanh", targets="qvmlp", scale=0.8),
    dict(name="odd heads1 depth3 mlp24 1 class",
         model=dict(image=8, patch=2, channels=3, dim=10, depth=3, heads=1, mlp=24, classes=1,
                    batch=2),
         method="lora", rank=2, alpha=3.0, targets="qvmlp"),
    dict(name="in21k names, pooler, no classifier", model=SMALL, method="neat", rank=3,
         ndepth=2, act="relu", targets="qv", scale=1.0, weights="in21k"),
    dict(name="weights at 16px, model at 12px (interpolated)",
         model=dict(SMALL, image=12, batch=2), method="lora", rank=2, alpha=4.0, targets="qv",
         weights_image=16),
    dict(name="weights at 12px, model at 16px (interpolated)",
         model=dict(SMALL, image=16, batch=2), method="head", weights_image=12),
    dict(name="odd heads3 depth3 full",
         model=dict(image=12, patch=6, channels=2, dim=9, depth=3, heads=3, mlp=7, classes=4,
                    batch=5),
         method="full"),
]


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=DTYPES[info["dtype"]])
        out[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return out


def config_of(m):
    return dict(image_size=m["image"], patch_size=m["patch"], channels=m["channels"],
                hidden=m["dim"], depth=m["depth"], heads=m["heads"], mlp_dim=m["mlp"],
                num_classes=m["classes"], layer_norm_eps=1e-12)


def flags_of(case):
    m = case["model"]
    flags = ["--model", "custom", "--image-size", m["image"], "--patch", m["patch"],
             "--channels", m["channels"], "--dim", m["dim"], "--depth", m["depth"],
             "--heads", m["heads"], "--mlp-dim", m["mlp"], "--num-classes", m["classes"],
             "--method", case["method"]]
    if case["method"] == "neat":
        flags += ["--neat-rank", case["rank"], "--neat-depth", case["ndepth"], "--neat-act",
                  case["act"], "--neat-targets", case["targets"], "--neat-scale", case["scale"]]
    elif case["method"] == "lora":
        flags += ["--lora-r", case["rank"], "--lora-alpha", case["alpha"], "--lora-targets",
                  case["targets"]]
    return [str(f) for f in flags]


def random_weights(model, gen):
    """Float64 values a float32 cannot hold; layer norms near 1, embeddings of size ~0.5."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if "layernorm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * noise)
            elif name.endswith("bias") or "layernorm" in name:
                p.copy_(0.1 * noise)
            elif "embeddings" in name and "projection" not in name:
                p.copy_(0.5 * noise)
            else:
                p.copy_(noise / math.sqrt(p[0].numel()))


def attach(model, case, gen):
    """make_reference's adapters with float64 (not float32-rounded) values, B non-zero."""
    method = case["method"]
    for p in model.parameters():
        p.requires_grad_(method == "full")
    if method in ("neat", "lora"):
        for name in ref.target_names(model, case["targets"]):
            base = model.get_submodule(name)
            if method == "neat":
                adapter = ref.NeatLinear(base, case["rank"], case["ndepth"], case["act"],
                                         case["scale"])
            else:
                adapter = ref.LoraLinear(base, case["rank"], case["alpha"])
            adapter.double()
            with torch.no_grad():
                for pname, p in adapter.named_parameters():
                    if pname not in ("weight", "bias"):
                        bound = 0.5 if pname.endswith("_B.weight") else 1 / math.sqrt(p.shape[1])
                        p.copy_((torch.rand(p.shape, generator=gen, dtype=torch.float64) * 2 - 1)
                                * bound)
            ref.replace(model, name, adapter)
    for name, p in model.named_parameters():
        if name.startswith("classifier."):
            p.requires_grad_(True)


def run_vit_step(folder, flags):
    out = os.path.join(folder, "step.safetensors")
    command = [VIT_STEP, "--dtype", "f64", "--threads", "1", "--out", out] + flags
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"vit_step exited {done.returncode}: {done.stderr.strip()}")
    return read_safetensors(out)


# A tensor's differences are measured relative to its own largest value, never to max(1, |x|)
# (which lets a small gradient be anything). FLOOR is well below any meaningful value; it only
# matters for gradients that are zero in exact arithmetic (the key bias; A's when B = 0).
FLOOR = 1e-3


def worst_difference(got, want):
    if tuple(got.shape) != tuple(want.shape):
        return math.inf
    if want.numel() == 0:
        return 0.0
    scale = max(want.abs().max().item(), FLOOR)
    return (got.double() - want).abs().max().item() / scale


def compare(step, logits, loss, model):
    """The worst difference over logits, loss and every trainable gradient, and its name."""
    want = {"logits": logits.detach(), "loss": loss.detach().reshape(())}
    for name, p in model.named_parameters():
        if p.requires_grad:
            want["grad." + name] = p.grad
    extra = sorted(set(step) - set(want))
    missing = sorted(set(want) - set(step))
    if extra or missing:
        raise RuntimeError(f"names differ: vit_step only {extra}, torch only {missing}")
    worst, where = 0.0, ""
    for name, w in want.items():
        d = worst_difference(step[name].reshape(w.shape) if name == "loss" else step[name], w)
        if not d <= worst:
            worst, where = d, name
    return worst, where


def file_weights(case, model, base, gen):
    """The backbone as a file holds it. weights="in21k": google/vit-base-patch16-224-in21k's
    layout (ViTModel names without "vit.", a pooler, no classifier). weights_image: the file's
    position embeddings are for that image size; the model gets them resized as HF's
    interpolate_pos_encoding does (bicubic, align_corners=False, to the model's grid)."""
    tensors = dict(base)
    if "weights_image" in case:
        m, pos = case["model"], "vit.embeddings.position_embeddings"
        g0, g = case["weights_image"] // m["patch"], m["image"] // m["patch"]
        stored = 0.5 * torch.randn(1, 1 + g0 * g0, m["dim"], generator=gen, dtype=torch.float64)
        grid = stored[:, 1:].reshape(1, g0, g0, m["dim"]).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(g, g), mode="bicubic", align_corners=False)
        resized = torch.cat([stored[:, :1], grid.permute(0, 2, 3, 1).reshape(1, g * g, -1)], 1)
        with torch.no_grad():
            model.get_parameter(pos).copy_(resized)
        base[pos] = resized
        tensors[pos] = stored
    if case.get("weights") == "in21k":
        tensors = {n[len("vit."):]: t for n, t in tensors.items() if n.startswith("vit.")}
        d = case["model"]["dim"]
        tensors["pooler.dense.weight"] = torch.randn(d, d, generator=gen, dtype=torch.float64)
        tensors["pooler.dense.bias"] = torch.randn(d, generator=gen, dtype=torch.float64)
    return list(tensors.items())


def check_case(case, folder, seed):
    gen = torch.Generator().manual_seed(seed)
    m = case["model"]
    config = config_of(m)
    model = ref.ViTForImageClassification(config).double()
    random_weights(model, gen)
    base = {n: p.detach().clone() for n, p in model.named_parameters()}
    pixels = torch.randn(m["batch"], m["channels"], m["image"], m["image"], generator=gen,
                         dtype=torch.float64)
    labels = torch.randint(0, m["classes"], (m["batch"],), generator=gen)
    paths = {k: os.path.join(folder, k + ".safetensors") for k in ("base", "batch", "adapter")}
    ref.write_safetensors(paths["base"], file_weights(case, model, base, gen), {})
    ref.write_safetensors(paths["batch"], [("pixel_values", pixels), ("labels", labels)], {})

    model.eval()
    attach(model, case, gen)
    adapter = [(n, p.detach()) for n, p in model.named_parameters()
               if p.requires_grad and (n not in base or n.startswith("classifier."))]
    ref.write_safetensors(paths["adapter"], adapter, {})
    logits = model(pixels)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    flags = flags_of(case) + ["--weights", paths["base"], "--batch", paths["batch"],
                              "--adapter", paths["adapter"]]
    return compare(run_vit_step(folder, flags), logits, loss, model)


def check_fresh_adapter(case, folder, seed):
    """Without --adapter: B = 0, so the logits are the backbone's and A gets no gradient."""
    gen = torch.Generator().manual_seed(seed)
    m = case["model"]
    model = ref.ViTForImageClassification(config_of(m)).double()
    random_weights(model, gen)
    pixels = torch.randn(m["batch"], m["channels"], m["image"], m["image"], generator=gen,
                         dtype=torch.float64)
    labels = torch.randint(0, m["classes"], (m["batch"],), generator=gen)
    ref.write_safetensors(os.path.join(folder, "base.safetensors"),
                          [(n, p.detach()) for n, p in model.named_parameters()], {})
    ref.write_safetensors(os.path.join(folder, "batch.safetensors"),
                          [("pixel_values", pixels), ("labels", labels)], {})
    step = run_vit_step(folder, flags_of(case) + [
        "--weights", os.path.join(folder, "base.safetensors"),
        "--batch", os.path.join(folder, "batch.safetensors")])
    with torch.no_grad():
        logits = model(pixels)
    worst = worst_difference(step["logits"], logits)
    a_names = [n for n in step if n.endswith(("neat_A.weight", "lora_A.weight"))]
    b_names = [n for n in step if n.endswith(("neat_B.weight", "lora_B.weight"))]
    targets = ref.target_names(model, case["targets"])
    want_a = sorted("grad." + t + (".neat_A.weight" if case["method"] == "neat" else
                                   ".lora_A.weight") for t in targets)
    if sorted(a_names) != want_a or len(b_names) != len(targets):
        raise RuntimeError(f"adapter gradients named {sorted(a_names)}, expected {want_a}")
    worst = max([worst] + [step[n].abs().max().item() for n in a_names])
    if m["classes"] > 1 and not any(step[n].abs().max().item() > 0 for n in b_names):
        raise RuntimeError("every B gradient is zero")  # (with one class the loss is always 0)
    return worst, "logits / grad of A"


def main():
    words = sys.argv[1:]
    if not os.path.exists(VIT_STEP):
        sys.exit(f"{VIT_STEP} not found: run make first, from the repository root")
    checks = [(c["name"], check_case, c) for c in CASES]
    checks += [("fresh " + c["name"], check_fresh_adapter, c) for c in CASES
               if c["method"] in ("neat", "lora") and "weights" not in c
               and "weights_image" not in c]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="check_vit_step_") as folder:
        for seed, (name, check, case) in enumerate(checks):
            if words and not any(w in name for w in words):
                continue
            try:
                worst, where = check(case, folder, 1000 + seed)
                ok = worst <= TOLERANCE
                print(f"{'ok  ' if ok else 'FAIL'} {name:48s} max diff {worst:.2e} ({where})")
            except RuntimeError as e:
                ok = False
                print(f"FAIL {name:48s} {e}")
            failed += not ok
    print(f"{failed} failed" if failed else f"all within {TOLERANCE:g}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
