#!/usr/bin/env python3
"""Writes tests/parity/decoder_tokenizer/: tiny decoder tokenizers and Hugging Face `tokenizers`'
answers on tricky strings, for tests/test_tokenizer_decoder.cpp.

Needs the `tokenizers` package: make a venv in the repository,
`/usr/bin/python3 -m venv .venv && .venv/bin/pip install tokenizers`, then from the root:

    .venv/bin/python tests/parity/make_decoder_tokenizer_reference.py

Four tokenizers are trained here on the first WordNet noun glosses (/usr/share/wordnet/data.noun,
deterministic for a given tokenizers version), each written as a tokenizer.json (a few KB):
  gpt2.json    byte-level BPE, ByteLevel pre-tokenizer (GPT-2's regex)
  llama3.json  byte-level BPE, Split(LLaMA-3's regex) + ByteLevel(use_regex=false),
               ignore_merges, TemplateProcessing "<|begin_of_text|> $A" (bos)
  smollm.json  byte-level BPE, Digits(individual_digits) + ByteLevel (SmolLM2's)
  spm.json     LLaMA-2 style: normalizer Prepend("▁") + Replace(" ", "▁"), BPE with
               byte_fallback and <0x00>..<0xFF> tokens, TemplateProcessing "<s> $A"
All have special added tokens (<|im_start|>, <|im_end|>, ...) and one non-special added token.
reference.json: {"tokenizers_version", name: [{"text", "ids" (encode with the post-processor),
"plain_ids" (no post-processor, special tokens not parsed: encode_special_tokens),
"decoded" (decode(ids)), "decoded_skip" (decode(ids, skip_special_tokens=True))}]}
"""
import json
import os

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer

from make_tokenizer_reference import wordnet_glosses  # the same glosses as the encoder tokenizers'

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "decoder_tokenizer")

GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
USER_DEFINED = "<tool_call>"  # a non-special added token, matched in the raw text

# Whitespace runs and newlines, contractions in both cases, digit runs, CJK, emoji, accents,
# controls, the special tokens inside text (whole, cut short, back to back), empty text.
STRINGS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "   leading spaces and trailing   ",
    "two  spaces, three   spaces,\ttab\t\tand\n\nnewlines\r\nCRLF \n \n",
    "\n\n\nonly newlines\n",
    "don't won't I'm you're we've they'll she'd",
    "DON'T WON'T I'M YOU'RE WE'VE THEY'LL SHE'D 'S",
    "It's 3.14159 and 1,000,000 or 1234567890 and ２０２４ and ½",
    "x1y22z333w4444",
    "中文分词测试，你好世界。日本語のテキスト 한국어",
    "emoji 😀😃 👍🏽 👨‍👩‍👧 🇫🇷 ❤️",
    "Héllo Wörld, ça va? Crème brûlée; He\u0301llo combining",
    "control\x01\x02chars\x7f and \x00 nul",
    "zero\u200bwidth and\u00a0nbsp and\u3000ideographic",
    "!!!???...,,,;;;::: $100 + 20% = ^_^ `code` @user #tag",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "text<|im_end|>more<|endoftext|><|endoftext|> after",
    "<|im_sta not a token <|im_end| and <|endoftext|",
    "a <tool_call>{\"name\": \"x\"}</tool_call> b",
    " <|im_start|> spaced <|im_end|> ",
    "def f(x):\n    return x  # comment\n\n\n",
    "",
    " ",
    "a",
]


def training_texts(limit):
    # WordNet glosses, plus a few lines that exercise digits, newlines, contractions and
    # non-ASCII letters
    return wordnet_glosses(limit) + ["In 1999 they'll pay 12345 dollars.\n\n",
                                     "Crème brûlée, naïve café.\r\n",
                                     "def f(x):\n    return x\n"] * 20


def byte_level(pre, ignore_merges=False):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(vocab_size=400, min_frequency=2, special_tokens=SPECIAL,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_texts(1500), trainer)
    tok.add_tokens([AddedToken(USER_DEFINED, normalized=False)])
    return tok


def sentencepiece():
    """LLaMA-2's layout: <unk> <s> </s>, the 256 byte tokens, then the trained pieces."""
    norm = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = norm
    trainer = BpeTrainer(vocab_size=300, min_frequency=2, special_tokens=["<unk>", "<s>", "</s>"],
                         limit_alphabet=60, show_progress=False)
    tok.train_from_iterator(training_texts(1000), trainer)
    trained = json.loads(tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({"<0x%02X>" % b: 3 + b for b in range(256)})
    for token, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(token, len(vocab))
    model = models.BPE(vocab=vocab, merges=[tuple(m) if isinstance(m, list) else tuple(m.split(" "))
                                            for m in trained["merges"]],
                       unk_token="<unk>", byte_fallback=True, fuse_unk=True)
    tok = Tokenizer(model)
    tok.normalizer = norm
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens(["<unk>", "<s>", "</s>"] + SPECIAL)
    tok.add_tokens([AddedToken(USER_DEFINED, normalized=False)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return tok


def build():
    gpt2 = byte_level(pre_tokenizers.ByteLevel(add_prefix_space=False))
    llama3 = byte_level(pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), ignore_merges=True)
    llama3.add_special_tokens(["<|begin_of_text|>"])
    bos = llama3.token_to_id("<|begin_of_text|>")
    llama3.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)])
    smollm = byte_level(pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)]))
    return {"gpt2": gpt2, "llama3": llama3, "smollm": smollm, "spm": sentencepiece()}


def answers(tok):
    out = []
    for text in STRINGS:
        tok.encode_special_tokens = False
        ids = tok.encode(text).ids
        tok.encode_special_tokens = True
        plain = tok.encode(text, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        out.append({"text": text, "ids": ids, "plain_ids": plain,
                    "decoded": tok.decode(ids, skip_special_tokens=False),
                    "decoded_skip": tok.decode(ids, skip_special_tokens=True)})
    return out


def main():
    os.makedirs(HERE, exist_ok=True)
    parts = ['"tokenizers_version": %s' % json.dumps(tokenizers.__version__)]
    for name, tok in build().items():
        tok.save(os.path.join(HERE, name + ".json"), pretty=False)
        items = answers(tok)
        parts.append("%s: [\n%s\n]" % (json.dumps(name), ",\n".join(
            json.dumps(x, ensure_ascii=True) for x in items)))
    with open(os.path.join(HERE, "reference.json"), "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(parts) + "\n}\n")
    print("wrote %s: %d strings x 4 tokenizers" % (HERE, len(STRINGS)))


if __name__ == "__main__":
    main()
