"""Writes tests/parity/peft_reference.safetensors: Hugging Face peft's answers for
tests/test_peft_parity.cpp, and (with --check-adapters) loads adapter directories written by
train_vit into peft and compares its logits with ours.

Run it through tests/parity/make_peft_reference.sh, which creates .venv/ with PyPI's torch,
transformers and peft (not needed by `make test`; the output file is committed).

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
    randperm.<n>.<seed> int64 [n]
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
CONFIG = dict(image_size=8, patch_size=4, channels=3, hidden=12, depth=2, heads=3, mlp_dim=20,
              num_classes=5, layer_norm_eps=1e-12)
BATCH = 3
# peft's target_modules as a regex (a full match of the module name): "output.dense" as a
# suffix would also match attention.output.dense.
TARGETS = {
    "qv": r".*\.attention\.attention\.(query|value)$",
    "qvmlp": r".*\.(attention\.attention\.(query|value)|intermediate\.dense|layer\.\d+\.output\.dense)$",
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


def check_adapter(directory, base_weights, pixels_path):
    """Loads one of our adapter directories with PeftModel.from_pretrained and compares logits."""
    from safetensors.torch import load_file
    base = load_file(base_weights)
    cfg = json.load(open(os.path.join(directory, "adapter_config.json")))
    hf = json.load(open(os.path.join(directory, "vit_config.json")))
    config = ViTConfig(**hf)
    model = ViTForImageClassification(config)
    missing, unexpected = model.load_state_dict(base, strict=False)
    assert not unexpected, unexpected
    model = PeftModel.from_pretrained(model.eval(), directory).eval()
    batch = load_file(pixels_path)
    with torch.no_grad():
        logits = model(pixel_values=batch["pixel_values"]).logits
    want = batch["logits"]
    err = (logits - want).abs().max().item() / want.abs().max().item()
    ok = err < 1e-4
    print(f"  {cfg['peft_type']:10s} {directory}: max |peft - ours| / max |ours| = {err:.2e} "
          f"{'ok' if ok else 'MISMATCH'}")
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check-adapters", nargs="*", default=None, metavar="DIR",
                   help="peft-layout adapter directories written by the C++ side")
    p.add_argument("--base", help="the base model (safetensors) the adapters were trained on")
    p.add_argument("--batch", help="safetensors with pixel_values and our logits")
    a = p.parse_args()
    if a.check_adapters is None:
        write_reference()
        return 0
    ok = all([check_adapter(d, a.base, os.path.join(d, "check_batch.safetensors"))
              for d in a.check_adapters])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
