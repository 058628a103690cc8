#!/usr/bin/env python3
"""Writes tests/parity/text_reference.safetensors: what transformers computes where our text
models once differed from it (tests/test_text_parity.cpp), on the tiny BERT and RoBERTa of
tests/parity/bert_reference.safetensors (their configs and base weights are read from it).

Needs transformers and safetensors: from the repository root,

    /usr/bin/python3 -m venv .venv
    .venv/bin/pip install torch transformers safetensors
    .venv/bin/python tests/parity/make_text_reference.py

Two cases per model type (bert, roberta), full fine-tuning in eval mode, float64 throughout:
  padding     one batch whose padding tokens are attended (attention_mask all ones, as when a
              caller passes no mask): nn.Embedding(padding_idx=pad_token_id) gives the word row
              pad_token_id (and RoBERTa's position row pad_token_id) exactly zero gradient
              although those rows are looked up; cross-entropy on the base model's 3 labels.
  regression  num_labels 1 (problem_type "regression"): the classifier is the base model's
              first output row; loss = MSE(logits.squeeze(-1), float scores), transformers'
              own loss (outputs.loss), padding masked as usual.
Computed in float64 and stored as float32 (the padding rows' zeros stay exact); the C++ test runs
in float64 too.

Tensor names:  <type>.<case>.input_ids, .attention_mask, .token_type_ids [B, N] i64,
               <type>.padding.labels [B] i64, <type>.regression.scores [B] f32,
               <type>.<case>.logits, <type>.<case>.loss [1], <type>.<case>.grad.<HF name> (f32)
Metadata:      format "neat-text-parity", version "1", transformers (its version)
"""
import json
import os

import torch
import torch.nn.functional as F
import transformers
from safetensors import safe_open
from transformers import (BertConfig, BertForSequenceClassification, RobertaConfig,
                          RobertaForSequenceClassification)

from make_reference import write_safetensors

FORMAT, VERSION = "neat-text-parity", "1"
HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {"bert": (BertConfig, BertForSequenceClassification),
          "roberta": (RobertaConfig, RobertaForSequenceClassification)}


def base_of(kind):
    """The config and base weights (float64) of bert_reference.safetensors' model `kind`."""
    path = os.path.join(HERE, "bert_reference.safetensors")
    with safe_open(path, "pt") as f:
        config_class = MODELS[kind][0]
        config = config_class.from_dict(json.loads(f.metadata()["config." + kind]))
        config._attn_implementation = "eager"
        prefix = kind + ".base."
        base = {k[len(prefix):]: f.get_tensor(k).double() for k in f.keys()
                if k.startswith(prefix)}
    return config, base


def run(kind, config, base, ids, mask, types, target, regression):
    model = MODELS[kind][1](config).double()
    model.load_state_dict(base, strict=True)
    model.eval()
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=target)
    if regression:
        want = F.mse_loss(out.logits.squeeze(-1), target)
    else:
        want = F.cross_entropy(out.logits, target)
    assert torch.equal(out.loss, want), (kind, out.loss, want)  # transformers' own loss
    out.loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return out.logits.detach(), out.loss.detach().reshape(1), grads


def main():
    gen = torch.Generator().manual_seed(2718)
    tensors = []
    for kind in ("bert", "roberta"):
        config, base = base_of(kind)
        pad = config.pad_token_id
        B, N = 3, 6
        ids = torch.randint(3, config.vocab_size, (B, N), generator=gen)
        ids[0, 4:] = pad
        ids[1, 2:] = pad
        ids[2, 3] = pad  # a padding token in the middle too
        types = torch.zeros(B, N, dtype=torch.int64)
        if kind == "bert":
            types[:, 3:] = 1

        # padding: every token attended, the padding ones included
        mask = torch.ones(B, N, dtype=torch.int64)
        labels = torch.randint(0, config.num_labels, (B,), generator=gen)
        logits, loss, grads = run(kind, config, base, ids, mask, types, labels, False)
        padding_loss = loss.item()
        rows = ["bert.embeddings.word_embeddings.weight" if kind == "bert"
                else "roberta.embeddings.word_embeddings.weight"]
        if kind == "roberta":
            rows.append("roberta.embeddings.position_embeddings.weight")
        for name in rows:
            assert torch.all(grads[name][pad] == 0), name
        p = kind + ".padding."
        tensors += [(p + "input_ids", ids), (p + "attention_mask", mask),
                    (p + "token_type_ids", types), (p + "labels", labels),
                    (p + "logits", logits), (p + "loss", loss)]
        tensors += [(p + "grad." + n, g) for n, g in grads.items()]

        # regression: num_labels 1, the classifier's first row
        reg_config = MODELS[kind][0].from_dict(config.to_dict())
        reg_config.num_labels = 1
        reg_config.problem_type = None  # transformers infers "regression" from num_labels 1
        reg_config.id2label, reg_config.label2id = {0: "LABEL_0"}, {"LABEL_0": 0}
        reg_config._attn_implementation = "eager"
        heads = {"classifier.weight", "classifier.bias", "classifier.out_proj.weight",
                 "classifier.out_proj.bias"}
        reg_base = {n: t[:1].clone() if n in heads else t for n, t in base.items()}
        mask = (ids != pad).long()
        mask[2, 3] = 1
        scores = (torch.rand(B, generator=gen, dtype=torch.float64) * 5).float().double()
        logits, loss, grads = run(kind, reg_config, reg_base, ids, mask, types, scores, True)
        assert reg_config.problem_type == "regression"
        p = kind + ".regression."
        tensors += [(p + "input_ids", ids), (p + "attention_mask", mask),
                    (p + "token_type_ids", types), (p + "scores", scores),
                    (p + "logits", logits), (p + "loss", loss)]
        tensors += [(p + "grad." + n, g) for n, g in grads.items()]
        print("%-8s padding loss %.6f, regression loss %.6f" % (kind, padding_loss, loss.item()))
    out = os.path.join(HERE, "text_reference.safetensors")
    tensors = [(n, t.float() if t.is_floating_point() else t) for n, t in tensors]
    write_safetensors(out, tensors, {"format": FORMAT, "version": VERSION,
                                     "transformers": transformers.__version__})
    print("wrote %s (%d bytes, %d tensors)" % (out, os.path.getsize(out), len(tensors)))


if __name__ == "__main__":
    main()
