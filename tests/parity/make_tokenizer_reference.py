#!/usr/bin/env python3
"""Writes tests/parity/tokenizer/: Hugging Face `tokenizers`' answers for tests/test_tokenizer.cpp.

Needs the `tokenizers` package (not Debian's python3): make a venv in the repository,
`/usr/bin/python3 -m venv .venv && .venv/bin/pip install tokenizers`, then from the root:

    .venv/bin/python tests/parity/make_tokenizer_reference.py

Inputs (committed): tokenizer/bert_uncased_vocab.txt, the 30,522-token WordPiece vocabulary of
bert-base-uncased as shipped with sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0).
Outputs:
  tokenizer/bpe_vocab.json, tokenizer/bpe_merges.txt: a small byte-level BPE (1,000 tokens)
      trained here on the first WordNet noun glosses (/usr/share/wordnet/data.noun), with
      RoBERTa's special tokens; deterministic for a given tokenizers version.
  tokenizer/reference.json: for every string in STRINGS and every configuration, the ids (with
      the special tokens) and token types; for every pair in PAIRS, the same after truncation
      to max_len ("longest_first").
      {"tokenizers_version", "wordpiece": {config: [{"text", "ids", "type_ids"}]},
       "wordpiece_pairs": [{"a", "b", "max_len", "ids", "type_ids"}],
       "bpe": [{"text", "ids", "type_ids"}], "bpe_pairs": [...]}
"""
import json
import os

import tokenizers
from tokenizers import ByteLevelBPETokenizer, Tokenizer
from tokenizers.implementations import BertWordPieceTokenizer
from tokenizers.processors import RobertaProcessing

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizer")

# Strings chosen to hit every rule: accents (composed and combining), case, punctuation runs,
# ASCII symbols BERT counts as punctuation, CJK (split per ideograph) beside Hangul and kana
# (not split), emoji (ZWJ sequences, skin tones, flags), control and zero-width characters,
# every kind of whitespace, contractions, numbers, long words (over 100 characters: [UNK]),
# words with no WordPiece match, U+0130 (lowercases to two characters), final sigma.
STRINGS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "unaffable",
    "Héllo Wörld, ça va? Crème brûlée à la carte.",
    "He\u0301llo combining acute",
    "naïve café résumé coöperate",
    "ÀÉÎÕÜ àéîõü ÇÑ çñ ßẞ",
    "İstanbul ıi İI",
    "ΣΊΣΥΦΟΣ σίσυφος ΟΔΥΣΣΕΥΣ",
    "Привет, мир! Ёлка",
    "中文分词测试，你好世界。",
    "日本語のテキストとカタカナ",
    "한국어 텍스트 안녕하세요",
    "mixed中文and English混合",
    "emoji 😀😃 👍🏽 👨‍👩‍👧 🇫🇷 ❤️",
    "tabs\tand\nnewlines\r\nand  double  spaces",
    "   leading and trailing spaces   ",
    "non\u00a0breaking\u2009thin\u3000ideographic space",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "control\x01\x02chars\x7f and \x00 nul",
    "replacement \ufffd char",
    "!!!???...,,,;;;:::",
    "$100 + 20% = ^_^ `code` ~tilde~ |pipe| @user #tag",
    "don't won't I'm you're we've they'll she'd",
    "DON'T WON'T I'M",
    "It's 3.14159 and 1,000,000 or 1e-10",
    "e-mail: someone@example.com, url: https://example.com/a?b=c&d=e",
    "C++ and C# and F# (not Java)",
    "«quotes» „German“ “curly” ‘single’ 'plain' \"double\"",
    "em—dash en–dash hyphen-ated",
    "ellipsis… bullet • section § pilcrow ¶",
    "math ∑∫√∞ ≤≥≠ ± × ÷",
    "currency €£¥₹₽¢",
    "superscript² subscript₂ fractions ½ ¾ ⅓",
    "ﬁ ligature ﬂ and ＦＵＬＬＷＩＤＴＨ ａｂｃ",
    "Ångström Øresund Łódź Đakovo",
    "Tiếng Việt có dấu",
    "ﺍﻟﻌﺮﺑﻴﺔ العربية",
    "עברית",
    "हिन्दी देवनागरी",
    "ไทย ภาษาไทย",
    "a" * 100,
    "b" * 101,
    "supercalifragilisticexpialidocious" * 3,
    "Pneumonoultramicroscopicsilicovolcanoconiosis",
    "xqzjvw qxzjj",
    "antidisestablishmentarianism",
    "",
    " ",
    "a",
    "A.B.C.",
    "ok",
    "1234567890",
    "snake_case and camelCase and kebab-case",
    "UPPER lower MiXeD",
    "end.",
    "\u2028line separator\u2029paragraph separator",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters 𝟙𝟚𝟛",
    "a dog's tail; the dogs' tails",
    "x\u0308\u0323 stacked marks",
]

PAIRS = [
    ("A man is playing a guitar.", "Someone plays an instrument.", 0),
    ("The premise is long and it keeps going on and on with many words.", "Short one.", 12),
    ("Short.", "The hypothesis is long and it keeps going on and on with many words.", 12),
    ("Both of these sentences are rather long ones.", "And this second one is long too.", 9),
    ("Équivalent accents à gauche", "naïve on the right", 10),
    ("one", "two", 5),
    ("tiny", "a very very very very long second sentence indeed", 7),
]

WORDPIECE_CONFIGS = {
    "uncased": dict(lowercase=True, strip_accents=None),
    "cased": dict(lowercase=False, strip_accents=False),
    "lower_keep_accents": dict(lowercase=True, strip_accents=False),
}


def wordnet_glosses(limit):
    glosses = []
    with open("/usr/share/wordnet/data.noun", encoding="utf-8") as f:
        for line in f:
            if line.startswith("  ") or "|" not in line:
                continue
            glosses.append(line.split("|", 1)[1].strip())
            if len(glosses) == limit:
                break
    return glosses


def entry(encoding, **fields):
    return dict(fields, ids=encoding.ids, type_ids=encoding.type_ids)


def main():
    vocab = os.path.join(HERE, "bert_uncased_vocab.txt")
    out = {"tokenizers_version": tokenizers.__version__, "wordpiece": {}}
    for name, config in WORDPIECE_CONFIGS.items():
        tok = BertWordPieceTokenizer(vocab, clean_text=True, handle_chinese_chars=True, **config)
        out["wordpiece"][name] = [entry(tok.encode(s), text=s) for s in STRINGS]
    uncased = BertWordPieceTokenizer(vocab, lowercase=True)
    out["wordpiece_pairs"] = []
    for a, b, max_len in PAIRS:
        if max_len:
            uncased.enable_truncation(max_len)
        else:
            uncased.no_truncation()
        out["wordpiece_pairs"].append(entry(uncased.encode(a, b), a=a, b=b, max_len=max_len))

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(wordnet_glosses(3000), vocab_size=1000, min_frequency=2,
                                special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    trainer.save_model(HERE, "bpe")  # bpe-vocab.json, bpe-merges.txt
    os.replace(os.path.join(HERE, "bpe-vocab.json"), os.path.join(HERE, "bpe_vocab.json"))
    os.replace(os.path.join(HERE, "bpe-merges.txt"), os.path.join(HERE, "bpe_merges.txt"))
    bpe = ByteLevelBPETokenizer(os.path.join(HERE, "bpe_vocab.json"),
                                os.path.join(HERE, "bpe_merges.txt"), add_prefix_space=False)
    bpe.post_processor = RobertaProcessing(("</s>", bpe.token_to_id("</s>")),
                                           ("<s>", bpe.token_to_id("<s>")))
    out["bpe"] = [entry(bpe.encode(s), text=s) for s in STRINGS]
    out["bpe_pairs"] = []
    for a, b, max_len in PAIRS:
        if max_len:
            bpe.enable_truncation(max_len)
        else:
            bpe.no_truncation()
        out["bpe_pairs"].append(entry(bpe.encode(a, b), a=a, b=b, max_len=max_len))

    # One entry a line: readable diffs when a version changes an answer.
    def lines(items):
        return "[\n" + ",\n".join(json.dumps(x, ensure_ascii=True) for x in items) + "\n]"
    parts = ['"tokenizers_version": %s' % json.dumps(out["tokenizers_version"])]
    parts.append('"wordpiece": {\n' + ",\n".join(
        "%s: %s" % (json.dumps(k), lines(v)) for k, v in out["wordpiece"].items()) + "\n}")
    for key in ("wordpiece_pairs", "bpe", "bpe_pairs"):
        parts.append("%s: %s" % (json.dumps(key), lines(out[key])))
    with open(os.path.join(HERE, "reference.json"), "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(parts) + "\n}\n")
    print("wrote %s: %d strings x %d WordPiece configs + BPE, %d pairs each"
          % (os.path.join(HERE, "reference.json"), len(STRINGS), len(WORDPIECE_CONFIGS),
             len(PAIRS)))


if __name__ == "__main__":
    main()
