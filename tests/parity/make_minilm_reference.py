#!/usr/bin/env python3
"""Writes tests/parity/minilm_reference.json: what transformers computes with the real
sentence-transformers/all-MiniLM-L6-v2 weights, for tests/test_minilm.cpp (which runs when the
files are in data/all-MiniLM-L6-v2/, fetched by `make deps`).

    .venv/bin/python tests/parity/make_minilm_reference.py [DIR]     (DIR: data/all-MiniLM-L6-v2)

For each sentence: the WordPiece ids (tokenizers' BertWordPieceTokenizer on the model's
vocab.txt, uncased) and the mean-pooled last hidden state (the sentence embedding of
sentence-transformers, before its normalisation) over a padded batch, in float64 from the float32
weights.
"""
import json
import os
import sys

import torch
from tokenizers.implementations import BertWordPieceTokenizer
from transformers import BertModel

SENTENCES = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog!",
    "Naïve café owners don't like 中文 emoji 😀.",
]


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "data/all-MiniLM-L6-v2"
    tok = BertWordPieceTokenizer(os.path.join(directory, "vocab.txt"), lowercase=True)
    encodings = [tok.encode(s).ids for s in SENTENCES]
    length = max(len(e) for e in encodings)
    ids = torch.zeros(len(SENTENCES), length, dtype=torch.int64)
    mask = torch.zeros(len(SENTENCES), length, dtype=torch.int64)
    for i, e in enumerate(encodings):
        ids[i, :len(e)] = torch.tensor(e)
        mask[i, :len(e)] = 1
    model = BertModel.from_pretrained(directory, attn_implementation="eager").double().eval()
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    weights = mask.unsqueeze(-1).double()
    pooled = (hidden * weights).sum(1) / weights.sum(1)
    out = [dict(text=s, ids=e, embedding=pooled[i].tolist())
           for i, (s, e) in enumerate(zip(SENTENCES, encodings))]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "minilm_reference.json")
    with open(path, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(x, ensure_ascii=True) for x in out) + "\n]\n")
    print("wrote %s: %d sentences, embeddings of %d" % (path, len(out), pooled.shape[1]))


if __name__ == "__main__":
    main()
