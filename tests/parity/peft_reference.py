"""Writes tests/parity/peft_reference.safetensors: Hugging Face peft's answers for
tests/test_peft_parity.cpp, and (with --interop) loads adapter directories written by train_vit
into peft and compares its logits with ours.

Run it through tests/parity/make_peft_reference.sh, which creates .venv/ with PyPI's torch,
transformers and peft (not needed by `make test`; the output file is committed);
`tests/parity/make_peft_reference.sh --interop /tmp/peft_interop` runs the interop check below.

What it holds: a tiny odd ViT (transformers' ViTForImageClassification: hidden 12, 3 heads,
MLP 20, 2 layers, 5 classes), one batch, and for each case (peft's LoRA, DoRA, VeRA, FourierFT
and the PiSSA initialisation, on qv or qvmlp) the trainable tensors, the logits, the loss and
the gradient of every trainable tensor after one forward and backward in eval mode, computed in
float64 from float32-representable values (FourierFT's delta: float32, as peft computes it),
stored as float32. Also torch.randperm for several sizes and seeds (FourierFT's positions).

Tensor names (ours: Hugging Face names, adapters as in nn/peft/):
    pixel_values [B,C,H,W], labels [B] int64, base.<name> (backbone + head)
    <case>.param.<name>, <case>.logits, <case>.loss [1], <case>.grad.<name>
    <case>.vera_A, <case>.vera_B (VeRA's shared projections)
    <case>.weight.<name> (PiSSA: the residual base weights)
Beside it, tests/parity/peft_adapters/<case>/ holds peft's save_pretrained directory of each
case but PiSSA (the same trainable values, in float64): our reader must give peft's logits.
    randperm.<n>.<seed> int64 [n]
    svd.<m>x<n>.{a, u, s, vh} float64: numpy.linalg.svd(a, full_matrices=False)
Metadata: format "neat-peft-parity", version "1", config (JSON), cases (JSON), versions (JSON).
"""
import argparse
import json
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import peft
import transformers
from peft import FourierFTConfig, LoraConfig, PeftModel, VeraConfig, get_peft_model
from transformers import ViTConfig, ViTForImageClassification

FORMAT, VERSION = "neat-peft-parity", "1"
OUT = "tests/parity/peft_reference.safetensors"
ADAPTERS = "tests/parity/peft_adapters"   # <case>/adapter_config.json + adapter_model.safetensors
CONFIG = dict(image_size=8, patch_size=4, channels=3, hidden=12, depth=2, heads=3, mlp_dim=20,
              num_classes=5, layer_norm_eps=1e-12)
BATCH = 3
# peft's target_modules as a regex (a full match of the module name; "output.dense" as a plain
# suffix would also match attention.output.dense), spelled exactly as nn/peft/peft_format.cpp's
# peft_target_regex writes them, so that our reader recognises them in the saved directories.
TARGETS = {
    "qv": r".*\.(attention\.attention\.query|attention\.attention\.value)$",
    "qvmlp": r".*\.(attention\.attention\.query|attention\.attention\.value|intermediate\.dense"
             r"|layer\.[^.]+\.output\.dense)$",
}
CASES = [
    dict(name="lora_qv", method="lora", targets="qv", rank=4, alpha=8.0),
    dict(name="dora_qvmlp", method="dora", targets="qvmlp", rank=3, alpha=6.0),
    dict(name="vera_qvmlp", method="vera", targets="qvmlp", rank=5, d_initial=0.1,
         projection_seed=0),
    dict(name="fourierft_qv", method="fourierft", targets="qv", n_frequency=20, scaling=50.0,
         random_loc_seed=123),
    dict(name="fourierft_qvmlp", method="fourierft", targets="qvmlp", n_frequency=30,
         scaling=150.0, random_loc_seed=777),
    dict(name="pissa_qvmlp", method="pissa", targets="qvmlp", rank=3, alpha=6.0),
]
# numpy's SVD of odd, wide, tall and rank-deficient matrices (for tests/test_svd.cpp's
# cross-check against LAPACK): (rows, cols, rank or 0 for full rank).
SVD_CASES = [(7, 5, 0), (5, 9, 0), (13, 13, 0), (9, 6, 2), (6, 11, 3)]
RANDPERM = [(1, 0), (2, 1), (10, 0), (17, 777), (144, 123), (240, 777), (1000, 42),
            (4096, 2**31 + 5)]


def peft_config(case):
    t = TARGETS[case["targets"]]
    common = dict(target_modules=t, modules_to_save=["classifier"])
    m = case["method"]
    if m in ("lora", "dora", "pissa"):
        return LoraConfig(r=case["rank"], lora_alpha=case["alpha"], lora_dropout=0.0,
                          use_dora=(m == "dora"),
                          init_lora_weights="pissa" if m == "pissa" else True, **common)
    if m == "vera":
        return VeraConfig(r=case["rank"], d_initial=case["d_initial"],
                          projection_prng_key=case["projection_seed"], save_projection=True,
                          vera_dropout=0.0, **common)
    if m == "fourierft":
        return FourierFTConfig(n_frequency=case["n_frequency"], scaling=case["scaling"],
                               random_loc_seed=case["random_loc_seed"], **common)
    raise ValueError(m)


def our_name(name):
    """peft's parameter name -> ours (nn/peft/: the adapter tensors are children of the layer)."""
    name = name.replace("base_model.model.", "", 1)
    name = name.replace(".modules_to_save.default", "").replace(".original_module", "")
    name = name.replace(".base_layer", "")
    name = re.sub(r"\.default(\.weight)?$", lambda m: m.group(1) or "", name)
    name = name.replace("lora_magnitude_vector.weight", "lora_magnitude_vector")
    name = name.replace(".default.", ".")
    return name


def f32(t):
    return t.detach().to(torch.float32).to(torch.float64)


def hf_config():
    c = CONFIG
    return ViTConfig(image_size=c["image_size"], patch_size=c["patch_size"],
                     num_channels=c["channels"], hidden_size=c["hidden"],
                     num_hidden_layers=c["depth"], num_attention_heads=c["heads"],
                     intermediate_size=c["mlp_dim"], num_labels=c["num_classes"],
                     layer_norm_eps=c["layer_norm_eps"], hidden_act="gelu",
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     attn_implementation="eager")


def base_model(state):
    model = ViTForImageClassification(hf_config())
    model.load_state_dict(state)
    return model.eval()


def run_case(case, base_state, pixels, labels, tensors, gen):
    model = get_peft_model(base_model(base_state), peft_config(case))
    model = model.to(torch.float64).eval()
    name = case["name"]
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if case["method"] != "pissa":
        # Non-zero values for every trainable tensor (B and lambda_b start at zero).
        with torch.no_grad():
            for n, p in trainable:
                p.copy_(f32(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5))
    else:
        for n, p in model.named_parameters():
            if n.endswith("base_layer.weight"):
                tensors[f"{name}.weight.{our_name(n)}"] = p.detach().float().clone()
    for n, p in trainable:
        tensors[f"{name}.param.{our_name(n)}"] = p.detach().float().clone()
    if case["method"] == "vera":
        vera_model = model.base_model
        tensors[f"{name}.vera_A"] = vera_model.vera_A["default"].detach().float().clone()
        tensors[f"{name}.vera_B"] = vera_model.vera_B["default"].detach().float().clone()
    if case["method"] != "pissa":   # peft's own directory, for our reader (test_peft_parity.cpp)
        model.save_pretrained(f"{ADAPTERS}/{name}")
        os.remove(f"{ADAPTERS}/{name}/README.md")   # peft's model card template
    logits = model(pixel_values=pixels).logits
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    tensors[f"{name}.logits"] = logits.detach().float()
    tensors[f"{name}.loss"] = loss.detach().float().reshape(1)
    for n, p in trainable:
        tensors[f"{name}.grad.{our_name(n)}"] = p.grad.detach().float().clone()
    print(f"  {name}: {len(trainable)} trainable tensors, loss {loss.item():.6f}")


def write_reference():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    model = ViTForImageClassification(hf_config())
    with torch.no_grad():   # visible weights: N(0, 0.2) everywhere (HF's init zeroes biases)
        for n, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    base_state = {n: t.detach().clone() for n, t in model.state_dict().items()}
    tensors = {f"base.{n}": t.float().contiguous() for n, t in base_state.items()}
    c = CONFIG
    pixels = torch.randn(BATCH, c["channels"], c["image_size"], c["image_size"], generator=gen)
    labels = torch.randint(0, c["num_classes"], (BATCH,), generator=gen)
    tensors["pixel_values"] = pixels
    tensors["labels"] = labels
    for case in CASES:
        run_case(case, base_state, pixels.double(), labels, tensors, gen)
    for m, n, rank in SVD_CASES:
        if rank == 0:
            a = torch.randn(m, n, generator=gen, dtype=torch.float64)
        else:
            a = (torch.randn(m, rank, generator=gen, dtype=torch.float64)
                 @ torch.randn(rank, n, generator=gen, dtype=torch.float64))
        u, s, vh = np.linalg.svd(a.numpy(), full_matrices=False)
        tensors[f"svd.{m}x{n}.a"] = a
        tensors[f"svd.{m}x{n}.u"] = torch.from_numpy(u)
        tensors[f"svd.{m}x{n}.s"] = torch.from_numpy(s)
        tensors[f"svd.{m}x{n}.vh"] = torch.from_numpy(vh)
    for n, seed in RANDPERM:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        tensors[f"randperm.{n}.{seed}"] = perm.to(torch.int64)
    metadata = {"format": FORMAT, "version": VERSION, "config": json.dumps(CONFIG),
                "cases": json.dumps(CASES),
                "versions": json.dumps({"torch": torch.__version__,
                                        "transformers": transformers.__version__,
                                        "peft": peft.__version__})}
    tmp = OUT + ".tmp"
    save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
    os.replace(tmp, OUT)
    print(f"wrote {OUT}: {len(tensors)} tensors (torch {torch.__version__}, transformers "
          f"{transformers.__version__}, peft {peft.__version__})")


# Interop (--interop): train_vit trains each method on synthetic data from the reference's base
# weights and writes DIR/peft in peft's layout; vit_step gives our logits for the same adapter
# on the reference batch; PeftModel.from_pretrained loads DIR/peft onto transformers' ViT and its
# logits must match ours. Needs ./train_vit and ./vit_step (make).
INTEROP = {
    "lora": "--method lora --lora-r 3 --lora-alpha 6 --lora-targets qvmlp",
    "dora": "--method dora --lora-r 3 --lora-alpha 6 --lora-targets qvmlp",
    "vera": "--method vera --vera-r 6 --vera-seed 5 --vera-targets qvmlp",
    "fourierft": "--method fourierft --fourier-n 40 --fourier-scaling 30 --fourier-seed 99 "
                 "--fourier-targets qvmlp",
}


def run(cmd):
    import subprocess
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {cmd}\n{done.stderr}")


def interop(work):
    from safetensors.torch import load_file
    ref = load_file(OUT)
    os.makedirs(work, exist_ok=True)
    base = {k[5:]: v for k, v in ref.items() if k.startswith("base.")}
    save_file(base, f"{work}/base.safetensors")
    save_file({"pixel_values": ref["pixel_values"], "labels": ref["labels"]},
              f"{work}/batch.safetensors")
    c = CONFIG
    model_flags = (f"--model custom --dim {c['hidden']} --depth {c['depth']} --heads {c['heads']} "
                   f"--mlp-dim {c['mlp_dim']} --image-size {c['image_size']} "
                   f"--patch {c['patch_size']} --channels {c['channels']}")
    ok = True
    for method, flags in INTEROP.items():
        out = f"{work}/{method}"
        # a large learning rate, so that every adapter tensor moves well away from its start
        run(f"./train_vit --data synthetic --classes 0-{c['num_classes'] - 1} {model_flags} "
            f"--weights {work}/base.safetensors {flags} --epochs 1 --train-limit 64 "
            f"--batch-size 16 --backbone-lr 0.05 --threads 1 --quiet --out {out}")
        run(f"./vit_step {model_flags} --num-classes {c['num_classes']} "
            f"--weights {work}/base.safetensors --adapter {out}/adapter.safetensors {flags} "
            f"--batch {work}/batch.safetensors --out {out}/ours.safetensors --threads 1")
        ours = load_file(f"{out}/ours.safetensors")["logits"].double()
        model = PeftModel.from_pretrained(base_model(base), f"{out}/peft").eval()
        with torch.no_grad():
            theirs = model(pixel_values=ref["pixel_values"]).logits.double()
        moved = (ours - load_plain_logits(base, ref)).abs().max().item() / ours.abs().max().item()
        err = (theirs - ours).abs().max().item() / ours.abs().max().item()
        passed = err < 1e-5
        ok = ok and passed
        print(f"  {method:10s} peft's logits vs ours: max diff / max |ours| = {err:.2e} "
              f"(the adapter moves the logits by {moved:.2f} of their size) "
              f"{'ok' if passed else 'MISMATCH'}")
    return ok


def load_plain_logits(base, ref):
    """The base model's logits (no adapter) on the reference batch."""
    with torch.no_grad():
        return base_model(base)(pixel_values=ref["pixel_values"]).logits.double()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--interop", metavar="WORKDIR",
                   help="check that peft loads our adapter directories (needs ./train_vit, "
                        "./vit_step); scratch files go to WORKDIR")
    a = p.parse_args()
    if a.interop is None:
        write_reference()
        return 0
    return 0 if interop(a.interop) else 1


if __name__ == "__main__":
    sys.exit(main())
