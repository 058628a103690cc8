#!/usr/bin/env python3
"""Writes tests/parity/bert_reference.safetensors: Hugging Face transformers' answers for
tests/test_bert_parity.cpp.

Needs transformers (Debian's python3-torch is enough for torch): from the repository root,

    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install transformers==4.44.2
    .venv/bin/python tests/parity/make_bert_reference.py

For each model type (bert, roberta) it builds transformers' BertForSequenceClassification /
RobertaForSequenceClassification with a tiny odd config (eager attention, eval mode: no
dropout), random weights, and one batch with padding at the end of two rows (so the key
padding mask and RoBERTa's padding-aware position ids both matter); then for each case (Neat,
LoRA, head, full) attaches the adapter exactly as tests/parity/make_reference.py does for the
ViT (same NeatLinear / LoraLinear / target matching), runs forward + cross-entropy + backward in
float64 and stores logits, loss and every trainable tensor's gradient as float32.

Tensor names:  <type>.input_ids, <type>.attention_mask, <type>.token_type_ids [B, N] i64,
               <type>.labels [B] i64, <type>.base.<HF name>,
               <type>.<case>.param.<name>, <type>.<case>.logits, <type>.<case>.loss [1],
               <type>.<case>.grad.<name>
Metadata:      format "neat-bert-parity", version "1", config.<type> (transformers'
               config.json text), cases (JSON list as make_reference.py's, plus "type")
"""
import json
import os

import torch
import torch.nn.functional as F
import transformers
from transformers import (BertConfig, BertForSequenceClassification, RobertaConfig,
                          RobertaForSequenceClassification)

from make_reference import attach, f32, write_safetensors

FORMAT, VERSION = "neat-bert-parity", "1"
COMMON = dict(vocab_size=37, hidden_size=12, num_hidden_layers=2, num_attention_heads=3,
              intermediate_size=20, num_labels=3, hidden_act="gelu", layer_norm_eps=1e-12,
              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
              attn_implementation="eager")
CONFIGS = {
    "bert": lambda: BertConfig(max_position_embeddings=16, type_vocab_size=2, pad_token_id=0,
                               **COMMON),
    "roberta": lambda: RobertaConfig(max_position_embeddings=16, type_vocab_size=1,
                                     pad_token_id=1, bos_token_id=0, eos_token_id=2, **COMMON),
}
MODELS = {"bert": BertForSequenceClassification, "roberta": RobertaForSequenceClassification}
CASES = [
    dict(name="neat_relu_d2_qv", method="neat", targets="qv", rank=3, depth=2,
         activation="relu", scale=1.0),
    dict(name="neat_sin_d4_qvmlp", method="neat", targets="qvmlp", rank=2, depth=4,
         activation="sin", scale=0.5),
    dict(name="lora_qv", method="lora", targets="qv", rank=4, alpha=8.0),
    dict(name="head", method="head"),
    dict(name="full", method="full"),
]
BATCH, LENGTH = 3, 7
REAL_LENGTHS = [7, 5, 3]  # rows 1 and 2 end in padding


def base_weights(model, gen):
    """float32-representable random weights: LayerNorms near 1, embeddings 0.5 N(0,1), Linears
    N(0, 1 / fan_in), biases 0.1 N(0,1); the padding rows as HF keeps them (zero)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if "LayerNorm" in name and name.endswith("weight"):
                value = 1 + 0.2 * noise
            elif name.endswith("bias") or "LayerNorm" in name:
                value = 0.1 * noise
            elif "embeddings" in name:
                value = 0.5 * noise
            else:
                value = noise / p.shape[1] ** 0.5
            p.copy_(f32(value))
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def batch(kind, config, gen):
    pad = config.pad_token_id
    low = 3  # ids 0-2 are special in both vocabularies
    ids = torch.randint(low, config.vocab_size, (BATCH, LENGTH), generator=gen)
    mask = torch.zeros(BATCH, LENGTH, dtype=torch.int64)
    types = torch.zeros(BATCH, LENGTH, dtype=torch.int64)
    for b, n in enumerate(REAL_LENGTHS):
        ids[b, n:] = pad
        mask[b, :n] = 1
        if kind == "bert":
            types[b, n // 2:n] = 1  # a pair: the second half is sequence B
    labels = torch.randint(0, config.num_labels, (BATCH,), generator=gen)
    return ids, mask, types, labels


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(4321)
    tensors, metadata, cases = [], {"format": FORMAT, "version": VERSION}, []
    for kind in ("bert", "roberta"):
        config = CONFIGS[kind]()
        metadata["config." + kind] = config.to_json_string()
        base = base_weights(MODELS[kind](config).double(), gen)
        ids, mask, types, labels = batch(kind, config, gen)
        tensors += [(kind + ".input_ids", ids), (kind + ".attention_mask", mask),
                    (kind + ".token_type_ids", types), (kind + ".labels", labels)]
        tensors += [(kind + ".base." + n, t.float()) for n, t in base.items()]
        for case in CASES:
            model = MODELS[kind](config).double()
            model.load_state_dict(base, strict=False)
            model.eval()
            attach(model, case, gen)
            logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
            prefix = "%s.%s." % (kind, case["name"])
            tensors += [(prefix + "param." + n, p.detach().float())
                        for n, p in trainable if n not in base]
            tensors += [(prefix + "logits", logits.detach().float()),
                        (prefix + "loss", loss.detach().float().reshape(1))]
            tensors += [(prefix + "grad." + n, p.grad.float()) for n, p in trainable]
            cases.append(dict(case, type=kind))
            print("%-8s %-20s loss %.6f  %d trainable tensors"
                  % (kind, case["name"], loss.item(), len(trainable)))
    metadata["cases"] = json.dumps(cases)
    metadata["transformers"] = transformers.__version__
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bert_reference.safetensors")
    write_safetensors(out, tensors, metadata)
    print("wrote %s (%d bytes, %d tensors)" % (out, os.path.getsize(out), len(tensors)))


if __name__ == "__main__":
    main()
