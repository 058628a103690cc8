#!/usr/bin/env python3
"""Writes tests/parity/smollm2_generation_reference.json: what Hugging Face transformers'
LlamaForCausalLM computes from SmolLM2-135M-Instruct's GGUF weights, for
tests/test_smollm2_generation.cpp.

Needs torch, transformers, gguf and numpy: from the repository root,

    /usr/bin/python3 -m venv .venv
    .venv/bin/pip install torch transformers gguf numpy
    .venv/bin/python tests/parity/make_smollm2_reference.py \
        data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

The model is built from gguf-py's dequantization of every tensor (float32), the Q and K rows
un-permuted as transformers' own GGUF loader does (reverse_permute_weights), tied embeddings as
the file has no output.weight, run in float32 with eager attention. The prompts' ids come from
transformers' tokenizer of the same GGUF file. For each prompt: the ids, the last position's
logits at its 20 largest and at 64 fixed ids (every 768th), and the row's largest magnitude;
and a 32-token greedy continuation of the first prompt by `generate` (no stop token: all 32
are generated), ids and text.
"""
import json
import os
import sys

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smollm2_generation_reference.json")
PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
]
LAYER = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
         "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
         "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm",
         "ffn_norm": "post_attention_layernorm"}


def field(reader, key):
    return reader.fields[key].contents()


def reverse_permute(w, heads):
    """GGML's RoPE row order -> HF's (transformers' reverse_permute_weights)."""
    return w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def hf_name(name):
    base, suffix = name.rsplit(".", 1)
    if base == "token_embd":
        return "model.embed_tokens." + suffix
    if base == "output_norm":
        return "model.norm." + suffix
    if base == "output":
        return "lm_head." + suffix
    _, layer, part = base.split(".")
    return f"model.layers.{layer}.{LAYER[part]}.{suffix}"


def load_model(path):
    """transformers' LlamaForCausalLM (float32, eager attention) with the file's weights."""
    reader = GGUFReader(path)
    heads = int(field(reader, "llama.attention.head_count"))
    kv_heads = int(field(reader, "llama.attention.head_count_kv"))
    names = [t.name for t in reader.tensors]
    config = LlamaConfig(
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data),
        hidden_size=int(field(reader, "llama.embedding_length")),
        intermediate_size=int(field(reader, "llama.feed_forward_length")),
        num_hidden_layers=int(field(reader, "llama.block_count")),
        num_attention_heads=heads, num_key_value_heads=kv_heads,
        rms_norm_eps=float(field(reader, "llama.attention.layer_norm_rms_epsilon")),
        rope_theta=float(field(reader, "llama.rope.freq_base")),
        max_position_embeddings=int(field(reader, "llama.context_length")),
        tie_word_embeddings="output.weight" not in names,
        bos_token_id=1, eos_token_id=None, pad_token_id=2)
    config._attn_implementation = "eager"
    model = LlamaForCausalLM(config).eval()
    state = {}
    for t in reader.tensors:
        w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        w = w.reshape([int(d) for d in reversed(t.shape)])
        if ".attn_q." in t.name:
            w = reverse_permute(w, heads)
        if ".attn_k." in t.name:
            w = reverse_permute(w, kv_heads)
        state[hf_name(t.name)] = torch.from_numpy(np.array(w, dtype=np.float32, order="C"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(m == "lm_head.weight" for m in missing), (missing, unexpected)
    model.tie_weights()
    return model


def tokenizer_of(path):
    return AutoTokenizer.from_pretrained(os.path.dirname(path) or ".",
                                         gguf_file=os.path.basename(path))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    torch.set_num_threads(2)
    model = load_model(path)
    tokenizer = tokenizer_of(path)
    vocab = model.config.vocab_size
    fixed = list(range(0, vocab, 768))
    prompts = []
    with torch.no_grad():
        for text in PROMPTS:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            row = model(torch.tensor([ids])).logits[0, -1]
            top = torch.topk(row, 20)
            prompts.append({"text": text, "ids": ids,
                            "top_ids": top.indices.tolist(), "top_logits": top.values.tolist(),
                            "fixed_ids": fixed, "fixed_logits": row[fixed].tolist(),
                            "max_abs": float(row.abs().max())})
        first = torch.tensor([prompts[0]["ids"]])
        out = model.generate(first, attention_mask=torch.ones_like(first), do_sample=False,
                             max_new_tokens=32)
    greedy = out[0, first.shape[1]:].tolist()
    assert len(greedy) == 32
    ref = {"format": "neat-smollm2-generation", "version": 1, "file": os.path.basename(path),
           "prompts": prompts, "greedy_ids": greedy,
           "greedy_text": tokenizer.decode(greedy)}
    with open(OUT, "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(OUT, repr(ref["greedy_text"]))


if __name__ == "__main__":
    main()
