#!/usr/bin/python3
"""Writes tests/parity/vit_reference.safetensors: PyTorch's answers for tests/test_parity.cpp.

Run from the repository root with Debian's python3-torch (not needed by CI or `make test`;
the output file is committed):

    /usr/bin/python3 tests/parity/make_reference.py

What it holds (llm.c's test_gpt2 recipe): a small ViT's weights, one batch, and for each case
(neat relu depth 2 / 4 on qv / qvmlp, neat sin2pi depth 6 on qv, lora,
head, full) the case's trainable tensors, the
logits, the loss and the gradient of every trainable tensor after one forward and backward in
eval mode. Computed in float64 from float32-representable values, stored as float32. Every
gradient peaks at MIN_GRADIENT or more (the script asserts it and prints each case's smallest
peak), so a dead or wrong gradient cannot pass the test's per-tensor tolerance.

Hugging Face `transformers` is not installed here (and Debian forbids `pip install --user`),
so the ViT below is HF's ViTForImageClassification forward written out in plain torch: same
module names, pre-LayerNorm layers with layernorm_before / layernorm_after, eps 1e-12, exact
GELU, cls token + learned position embeddings, the classifier on the final layernorm's cls
row (modeling_vit.py, eager attention, no dropout in eval).

Tensor names:   pixel_values [B,C,H,W] f32, labels [B] i64, base.<HF name> (backbone + head),
                <case>.param.<name>, <case>.logits, <case>.loss [1], <case>.grad.<name>
Metadata:       format "neat-parity", version "2", config (the ViT, JSON), cases (JSON list of
                {"name", "method", "targets", "rank", "depth", "activation", "scale", "alpha"})
"""
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT, VERSION = "neat-parity", "2"
CONFIG = dict(image_size=8, patch_size=4, channels=3, hidden=16, depth=2, heads=2, mlp_dim=32,
              num_classes=5, layer_norm_eps=1e-12)
BATCH = 4
CASES = [
    dict(name="neat_relu_d2_qv", method="neat", targets="qv", rank=3, depth=2,
         activation="relu", scale=1.0),
    dict(name="neat_relu_d4_qv", method="neat", targets="qv", rank=3, depth=4,
         activation="relu", scale=0.5),
    dict(name="neat_relu_d2_qvmlp", method="neat", targets="qvmlp", rank=3, depth=2,
         activation="relu", scale=1.0),
    dict(name="neat_relu_d4_qvmlp", method="neat", targets="qvmlp", rank=3, depth=4,
         activation="relu", scale=1.0),
    dict(name="neat_sin2pi_d6_qv", method="neat", targets="qv", rank=3, depth=6,
         activation="sin2pi", scale=0.25),
    dict(name="lora_qv", method="lora", targets="qv", rank=4, alpha=8.0),
    dict(name="head", method="head"),
    dict(name="full", method="full"),
]
# Target names of each preset, as nn/peft/attach.cpp resolves them (ViT: attention.attention.*,
# BERT: attention.self.*); a target matches a module whose dotted name ends with its parts,
# "*" matching any one part (the MLP's output is layer.N.output.dense, never
# attention.output.dense).
# transformers 4 names the ViT's projections attention.attention.{query,value}, intermediate.dense
# and output.dense; transformers 5 attention.{q_proj,v_proj} and mlp.{fc1,fc2}.
TARGETS = {
    "qv": ["attention.*.query", "attention.*.value", "attention.q_proj", "attention.v_proj"],
    "qvmlp": ["attention.*.query", "attention.*.value", "intermediate.dense",
              "layer.*.output.dense", "attention.q_proj", "attention.v_proj", "mlp.fc1",
              "mlp.fc2"],
}


# ---- the ViT, HF module names ----------------------------------------------------------------

class PatchEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        p = c["patch_size"]
        self.projection = nn.Conv2d(c["channels"], c["hidden"], kernel_size=p, stride=p)

    def forward(self, x):  # [B, C, H, W] -> [B, N, D]
        return self.projection(x).flatten(2).transpose(1, 2)


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = (c["image_size"] // c["patch_size"]) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c["hidden"]))
        self.position_embeddings = nn.Parameter(torch.zeros(1, n + 1, c["hidden"]))
        self.patch_embeddings = PatchEmbeddings(c)

    def forward(self, x):
        patches = self.patch_embeddings(x)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat([cls, patches], dim=1) + self.position_embeddings


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden"]
        self.heads = c["heads"]
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def split(self, t):  # [B, N, D] -> [B, H, N, Dh]
        b, n, d = t.shape
        return t.view(b, n, self.heads, d // self.heads).permute(0, 2, 1, 3)

    def forward(self, x):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        context = torch.softmax(scores, dim=-1) @ v
        b, h, n, dh = context.shape
        return context.permute(0, 2, 1, 3).reshape(b, n, h * dh)


class Dense(nn.Module):  # HF ViTSelfOutput / ViTIntermediate / ViTOutput: a Linear named dense
    def __init__(self, i, o):
        super().__init__()
        self.dense = nn.Linear(i, o)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = SelfAttention(c)
        self.output = Dense(c["hidden"], c["hidden"])

    def forward(self, x):
        return self.output.dense(self.attention(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden"], c["layer_norm_eps"]
        self.attention = Attention(c)
        self.intermediate = Dense(d, c["mlp_dim"])
        self.output = Dense(c["mlp_dim"], d)
        self.layernorm_before = nn.LayerNorm(d, eps=eps)
        self.layernorm_after = nn.LayerNorm(d, eps=eps)

    def forward(self, h):
        h = self.attention(self.layernorm_before(h)) + h
        mlp = F.gelu(self.intermediate.dense(self.layernorm_after(h)))
        return self.output.dense(mlp) + h


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["depth"])])

    def forward(self, h):
        for layer in self.layer:
            h = layer(h)
        return h


class ViTModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.layernorm = nn.LayerNorm(c["hidden"], eps=c["layer_norm_eps"])

    def forward(self, x):
        return self.layernorm(self.encoder(self.embeddings(x)))


class ViTForImageClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vit = ViTModel(c)
        self.classifier = nn.Linear(c["hidden"], c["num_classes"])

    def forward(self, x):
        return self.classifier(self.vit(x)[:, 0, :])


# ---- the adapters, written from their definitions --------------------------------------------

ACTIVATIONS = {"relu": torch.relu, "sin2pi": lambda t: torch.sin(2 * math.pi * t),
               "gelu": F.gelu, "tanh": torch.tanh, "identity": lambda t: t}


class NeatLinear(nn.Module):
    """y = x W0^T + b + s x Delta^T with Delta^T = neat_B(M) [IN, OUT] and M the network of W0:
    M = act(neat_A(W0^T)); encoders push h then h = act(L(h)); decoders h = act(L(h)) + pop()."""

    def __init__(self, base, rank, depth, activation, scale):
        super().__init__()
        out_f, in_f = base.weight.shape
        self.weight, self.bias = base.weight, base.bias
        self.neat_A = nn.Linear(out_f, rank, bias=False)
        self.neat_B = nn.Linear(rank, out_f, bias=False)
        self.neat_layers = nn.ModuleList([nn.Linear(rank, rank, bias=False)
                                          for _ in range(depth - 2)])
        self.act, self.scale = ACTIVATIONS[activation], scale

    def m(self):
        """M [IN, R]: the rows of W0^T through the network (U-Net skips, reverse order)."""
        h = self.act(self.neat_A(self.weight.t()))
        saved, encoders = [], len(self.neat_layers) // 2
        for i, layer in enumerate(self.neat_layers):
            if i < encoders:
                saved.append(h)
                h = self.act(layer(h))
            else:
                h = self.act(layer(h)) + saved.pop()
        return h

    def forward(self, x):
        delta_t = self.neat_B(self.m())  # [IN, OUT]
        return F.linear(x, self.weight, self.bias) + self.scale * (x @ delta_t)


class LoraLinear(nn.Module):
    """peft's lora.Linear in eval mode: y = x W0^T + b + (alpha / r) lora_B(lora_A(x))."""

    def __init__(self, base, rank, alpha):
        super().__init__()
        out_f, in_f = base.weight.shape
        self.weight, self.bias = base.weight, base.bias
        self.lora_A = nn.Linear(in_f, rank, bias=False)
        self.lora_B = nn.Linear(rank, out_f, bias=False)
        self.scaling = alpha / rank

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + self.scaling * self.lora_B(self.lora_A(x))


def matches(name, target):
    parts, want = name.split("."), target.split(".")
    tail = parts[len(parts) - len(want):]
    return len(want) <= len(parts) and all(w in ("*", p) for w, p in zip(want, tail))


def target_names(model, preset):
    return [name for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and any(matches(name, t) for t in TARGETS[preset])]


def replace(model, dotted, module):
    parent, _, child = dotted.rpartition(".")
    setattr(model.get_submodule(parent), child, module)


def f32(t):  # a float64 tensor of float32-representable values
    return t.float().double()


def adapter_init(pname, shape, activation, gen):
    """Adapter values, uniform: A like torch.nn.Linear's init (+-1/sqrt fan_in), B non-zero
    (+-0.5), Neat's square layers as A. For ReLU, Neat's A is twice as large and its square layers
    are near the identity, I + U(-1/sqrt R, 1/sqrt R) / 2: the stack then passes its (partly
    positive) input on instead of zeroing whole units, so no layer's gradient is dead or tiny.
    (sin(2 pi x) keeps the plain init: larger values there make float32 ill-conditioned.)"""
    uniform = torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1
    bound = 1.0 / math.sqrt(shape[1])
    if pname.endswith("_B.weight"):
        return 0.5 * uniform
    if activation == "relu" and "neat_layers" in pname:
        return torch.eye(shape[0], dtype=torch.float64) + 0.5 * bound * uniform
    if activation == "relu" and pname.endswith("neat_A.weight"):
        return 2 * bound * uniform
    return bound * uniform


def attach(model, case, gen):
    """Wraps the case's targets, sets requires_grad, gives the adapter non-zero values."""
    method = case["method"]
    for p in model.parameters():
        p.requires_grad_(method == "full")
    if method in ("neat", "lora"):
        for name in target_names(model, case["targets"]):
            base = model.get_submodule(name)
            if method == "neat":
                adapter = NeatLinear(base, case["rank"], case["depth"], case["activation"],
                                     case["scale"])
            else:
                adapter = LoraLinear(base, case["rank"], case["alpha"])
            adapter.double()
            with torch.no_grad():
                for pname, p in adapter.named_parameters():
                    if pname in ("weight", "bias"):
                        continue
                    p.copy_(f32(adapter_init(pname, p.shape, case.get("activation"), gen)))
            replace(model, name, adapter)
    for name, p in model.named_parameters():
        if name.startswith("classifier."):
            p.requires_grad_(True)
    return model


def base_weights(gen):
    model = ViTForImageClassification(CONFIG).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name and name.endswith("weight"):
                value = 1 + 0.2 * torch.randn(p.shape, generator=gen, dtype=torch.float64)
            elif name.endswith("bias") or "layernorm" in name:
                value = 0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float64)
            elif "embeddings" in name and "projection" not in name:
                value = 0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64)
            else:
                # query and key 2x larger: scores 4x, so attention is not near uniform and the
                # query path's gradients are not tiny (a trained ViT attends sharply too)
                gain = 2.0 if (".query." in name or ".key." in name) else 1.0
                fan_in = p[0].numel()
                value = (gain * torch.randn(p.shape, generator=gen, dtype=torch.float64)
                         / math.sqrt(fan_in))
            p.copy_(f32(value))
    return {name: p.detach().clone() for name, p in model.named_parameters()}


# Every reference gradient must peak at least here, so a zero or wrong gradient cannot pass
# tests/test_parity.cpp's per-tensor tolerance (relative to the tensor's own largest value).
MIN_GRADIENT = 1e-2


def zero_by_construction(name):
    """The key bias's gradient is zero in exact arithmetic: q . b_k adds the same number to every
    score of a softmax row, and softmax ignores a shift. Its reference is rounding noise."""
    return name.endswith("attention.attention.key.bias")


def write_safetensors(path, tensors, metadata):
    dtypes = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors:
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data section to 8 bytes, as HF does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    base = base_weights(gen)
    pixels = f32(torch.randn(BATCH, CONFIG["channels"], CONFIG["image_size"],
                             CONFIG["image_size"], generator=gen, dtype=torch.float64))
    labels = torch.randint(0, CONFIG["num_classes"], (BATCH,), generator=gen)

    tensors = [("pixel_values", pixels.float()), ("labels", labels)]
    tensors += [("base." + n, t.float()) for n, t in base.items()]
    for case in CASES:
        model = ViTForImageClassification(CONFIG).double()
        model.load_state_dict(base)
        model.eval()
        attach(model, case, gen)
        logits = model(pixels)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        prefix = case["name"] + "."
        adapter = [(n, p) for n, p in trainable if n not in base]
        tensors += [(prefix + "param." + n, p.detach().float()) for n, p in adapter]
        tensors += [(prefix + "logits", logits.detach().float()),
                    (prefix + "loss", loss.detach().float().reshape(1))]
        tensors += [(prefix + "grad." + n, p.grad.float()) for n, p in trainable]
        smallest, name = min((p.grad.abs().max().item(), n) for n, p in trainable
                             if not zero_by_construction(n))
        print(f"{case['name']:20s} loss {loss.item():.6f}  {len(trainable):3d} trainable tensors"
              f"  smallest max|g| {smallest:.3g} ({name})")
        assert smallest >= MIN_GRADIENT, (
            f"{case['name']}: the gradient of {name} peaks at {smallest:.3g} < {MIN_GRADIENT}: "
            "it would check nothing; change the seeds or the init")

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vit_reference.safetensors")
    metadata = {"format": FORMAT, "version": VERSION, "config": json.dumps(CONFIG),
                "cases": json.dumps(CASES)}
    write_safetensors(out, tensors, metadata)
    print(f"wrote {out} ({os.path.getsize(out)} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    main()
