#!/usr/bin/env python3
"""Writes tests/parity/llama_reference.safetensors: Hugging Face transformers' LlamaForCausalLM
answers for tests/test_llama_parity.cpp.

Needs torch, transformers (5.x; 4.x works too) and peft: from the repository root,

    /usr/bin/python3 -m venv .venv
    .venv/bin/pip install torch transformers peft safetensors numpy
    .venv/bin/python tests/parity/make_llama_reference.py

Two tiny configs with grouped-query attention (4 query heads on 2 key / value heads, head_dim 8
with hidden 8, so head_dim is not hidden / heads), 2 layers, vocab 24, rope_theta 50000 and a
llama3 rope_scaling whose four frequencies fall in all three of its bands, pad_token_id 0 (the
embedding's padding_idx: the padded ids' row gets no gradient): "untied" (a separate
lm_head, no biases, explicit position ids as generate makes them for a left-padded batch) and
"tied" (tie_word_embeddings, attention_bias and mlp_bias, default position ids). One left-padded
batch; labels are the ids with -100 on the padding and on each row's first real token (that
token is predicted by a padding position, whose attention row only sees padding: HF and we
settle such a row differently, and it reaches no real token). For each config and case (full
fine-tuning; peft's LoRA on q, k, v, o, gate, up, down; Neat on the same targets (untied only),
composed in torch as tests/parity/make_reference.py's NeatLinear, since peft has no Neat) one
forward,
HF's causal-LM loss and one backward, all in float64 from float32-representable weights.

transformers computes three things in float32 even in a float64 model; they are patched here to
run in the model's dtype (they change nothing else): LlamaRMSNorm's upcast, the rotary
embedding's cos / sin (and inv_freq, recomputed in float64 by HF's formulas and checked against
HF's float32 buffer), and the eager attention's softmax; the loss is HF's ForCausalLMLoss
without its .float().

Tensor names:  <cfg>.input_ids, <cfg>.attention_mask, <cfg>.labels [B, N] i64,
               <cfg>.position_ids [B, N] i64 (untied only), <cfg>.base.<HF name> (F32, exact),
               <cfg>.<case>.param.<name> (F32, exact), <cfg>.<case>.logits [B, N, V] (F64; rows of padding
               zeroed), <cfg>.<case>.loss [1] (F64), <cfg>.<case>.grad.<name> (F64)
Metadata:      format "neat-llama-parity", version "1", config.<cfg> (transformers' config
               JSON), cases (JSON list: name, method, targets, rank, alpha / depth,
               activation, scale; plus "config")
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
import transformers
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama import modeling_llama

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference  # noqa: E402  (NeatLinear, attach, f32, write_safetensors)
from peft_reference import our_name  # noqa: E402

FORMAT, VERSION = "neat-llama-parity", "1"
TARGETS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
make_reference.TARGETS[TARGETS] = TARGETS.split(",")
COMMON = dict(vocab_size=24, hidden_size=8, intermediate_size=12, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, head_dim=8, hidden_act="silu",
              rms_norm_eps=1e-5, max_position_embeddings=256, initializer_range=0.02,
              attention_dropout=0.0, pad_token_id=0, bos_token_id=1, eos_token_id=2,
              attn_implementation="eager")
ROPE = dict(rope_type="llama3", factor=4.0, low_freq_factor=1.0, high_freq_factor=4.0,
            original_max_position_embeddings=128)
CONFIGS = {
    "untied": dict(tie_word_embeddings=False, attention_bias=False, mlp_bias=False),
    "tied": dict(tie_word_embeddings=True, attention_bias=True, mlp_bias=True),
}
CASES = [
    dict(name="full", method="full"),
    dict(name="lora", method="lora", targets=TARGETS, rank=2, alpha=6.0),
    dict(name="neat", method="neat", targets=TARGETS, rank=2, depth=2, activation="relu",
         scale=1.0),
]
REAL_LENGTHS = [7, 5, 3]   # left padding: rows 1 and 2 start with 2 and 4 pads
LENGTH, PAD = 7, 0


def make_config(kind):
    rope = dict(rope_theta=50000.0, **ROPE)
    try:   # transformers 5: rope_parameters; 4: rope_theta + rope_scaling
        return LlamaConfig(rope_parameters=rope, **COMMON, **CONFIGS[kind])
    except TypeError:
        return LlamaConfig(rope_theta=50000.0, rope_scaling=ROPE, **COMMON, **CONFIGS[kind])


def inv_freq64(config):
    """HF's default and llama3 inverse frequencies (modeling_rope_utils), in float64."""
    hd, theta = config.head_dim, 50000.0
    f = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    old, low, high, factor = (ROPE["original_max_position_embeddings"], ROPE["low_freq_factor"],
                              ROPE["high_freq_factor"], ROPE["factor"])
    wavelen = 2 * math.pi / f
    scaled = torch.where(wavelen > old / low, f / factor, f)
    smooth = (old / wavelen - low) / (high - low)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < old / high) * ~(wavelen > old / low)
    bands = [int((wavelen < old / high).sum()), int(medium.sum()), int((wavelen > old / low).sum())]
    assert all(n > 0 for n in bands), bands   # every band of llama3's scaling is exercised
    return torch.where(medium, blended, scaled)


def rms_norm_forward(self, h):   # LlamaRMSNorm without the float32 upcast
    variance = h.pow(2).mean(-1, keepdim=True)
    return self.weight * (h * torch.rsqrt(variance + self.variance_epsilon))


def rotary_forward(self, x, position_ids):   # LlamaRotaryEmbedding in float64
    freqs = position_ids[..., None].to(torch.float64) * self.inv_freq64
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


def eager_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """modeling_llama.eager_attention_forward with the softmax in the query's dtype."""
    key = modeling_llama.repeat_kv(key, module.num_key_value_groups)
    value = modeling_llama.repeat_kv(value, module.num_key_value_groups)
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = torch.softmax(weights, dim=-1)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


modeling_llama.LlamaRMSNorm.forward = rms_norm_forward
modeling_llama.LlamaRotaryEmbedding.forward = rotary_forward
modeling_llama.eager_attention_forward = eager_attention


def causal_lm_loss(logits, labels):   # HF's ForCausalLMLoss, without the float32 upcast
    shift = F.pad(labels, (0, 1), value=-100)[..., 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), shift.reshape(-1),
                           ignore_index=-100)


def build(config, base):
    model = LlamaForCausalLM(config).double().eval()
    hf_inv_freq = model.model.rotary_emb.inv_freq
    model.model.rotary_emb.inv_freq64 = inv_freq64(config)
    assert torch.allclose(hf_inv_freq.double(), model.model.rotary_emb.inv_freq64, rtol=1e-6)
    if base is not None:
        model.load_state_dict(base, strict=False)
    return model


def base_weights(model, gen):
    """float32-representable random weights: norms 1 + 0.2 N(0,1), biases 0.1 N(0,1), the
    embedding 0.5 N(0,1), Linears N(0, 1 / fan_in) (q and k 2x, so attention is not uniform)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if "norm" in name:
                value = 1 + 0.2 * noise
            elif name.endswith("bias"):
                value = 0.1 * noise
            elif "embed_tokens" in name:
                value = 0.5 * noise
            else:
                gain = 2.0 if ("q_proj" in name or "k_proj" in name) else 1.0
                value = gain * noise / p.shape[1] ** 0.5
            p.copy_(make_reference.f32(value))
    return {name: p.detach().clone() for name, p in model.state_dict().items()
            if "rotary_emb" not in name}


def batch(config, gen):
    ids = torch.randint(3, config.vocab_size, (len(REAL_LENGTHS), LENGTH), generator=gen)
    mask = torch.zeros_like(ids)
    labels = ids.clone()
    for b, n in enumerate(REAL_LENGTHS):
        ids[b, :LENGTH - n] = PAD
        mask[b, LENGTH - n:] = 1
        labels[b, :LENGTH - n + 1] = -100   # the padding and the first real token
    position_ids = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)   # as generate makes them
    return ids, mask, labels, position_ids


def attach(model, case, gen):
    if case["method"] == "lora":
        model = get_peft_model(model, LoraConfig(r=case["rank"], lora_alpha=case["alpha"],
                                                 lora_dropout=0.0,
                                                 target_modules=case["targets"].split(",")))
        with torch.no_grad():   # non-zero values (lora_B starts at zero)
            for n, p in model.named_parameters():
                if p.requires_grad:
                    p.copy_(make_reference.f32(0.5 * torch.randn(p.shape, generator=gen,
                                                                 dtype=torch.float64)))
        return model.double().eval(), our_name
    return make_reference.attach(model, case, gen), lambda n: n


def run_case(kind, config, base, inputs, case, gen, tensors):
    ids, mask, labels, position_ids = inputs
    model, rename = attach(build(config, base), case, gen)
    trainable = [(rename(n), p) for n, p in model.named_parameters() if p.requires_grad]
    prefix = "%s.%s." % (kind, case["name"])
    tensors += [(prefix + "param." + n, p.detach().float()) for n, p in trainable
                if n not in base]
    logits = model(input_ids=ids, attention_mask=mask,
                   position_ids=position_ids if kind == "untied" else None).logits
    loss = causal_lm_loss(logits, labels)
    loss.backward()
    tensors += [(prefix + "logits", (logits * mask[..., None]).detach()),
                (prefix + "loss", loss.detach().reshape(1))]
    tensors += [(prefix + "grad." + n, p.grad.detach().clone()) for n, p in trainable]
    smallest = min(p.grad.abs().max().item() for _, p in trainable)
    print("%-7s %-5s loss %.6f  %2d trainable tensors, smallest peak gradient %.2e"
          % (kind, case["name"], loss.item(), len(trainable), smallest))


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2024)
    tensors, cases = [], []
    metadata = {"format": FORMAT, "version": VERSION, "transformers": transformers.__version__}
    for kind in CONFIGS:
        config = make_config(kind)
        metadata["config." + kind] = config.to_json_string()
        base = base_weights(build(config, None), gen)
        inputs = batch(config, gen)
        names = ["input_ids", "attention_mask", "labels", "position_ids"]
        tensors += [("%s.%s" % (kind, n), t) for n, t in zip(names, inputs)
                    if n != "position_ids" or kind == "untied"]
        tensors += [("%s.base.%s" % (kind, n), t.float()) for n, t in base.items()]
        for case in CASES:
            if kind == "tied" and case["method"] == "neat":
                continue   # the same adapter code as untied's; keeps the file small
            run_case(kind, config, base, inputs, case, gen, tensors)
            cases.append(dict(case, config=kind))
    metadata["cases"] = json.dumps(cases)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llama_reference.safetensors")
    make_reference.write_safetensors(out, tensors, metadata)
    print("wrote %s (%d bytes, %d tensors)" % (out, os.path.getsize(out), len(tensors)))


if __name__ == "__main__":
    main()
