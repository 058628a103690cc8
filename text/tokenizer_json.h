// Hugging Face's tokenizer.json for decoder models, read into a BPEVocab (text/bpe_tokenizer.h):
//
//   model          BPE: vocab, merges ("a b" strings or [a, b] pairs), byte_fallback,
//                  unk_token, ignore_merges
//   normalizer     null, or LLaMA-2's Sequence [Prepend "▁", Replace " " -> "▁"] (SentencePiece)
//   pre_tokenizer  ByteLevel (use_regex: GPT-2's split), Split with GPT-2's or LLaMA-3's regex
//                  (recognised by its exact text), Digits (individual), a Sequence of these,
//                  or Metaspace (SentencePiece); other regexes and types are refused by name
//   added_tokens   special ones become control tokens, the others user-defined
//   post_processor TemplateProcessing starting with a special token: that token is bos, added
//                  by default (add_bos)
//
// tokenizer.json does not say which token ends a turn: set vocab.eos from the model's
// configuration (generation_config.json) when it is needed.
//
//   BPETokenizer tok = load_tokenizer_json("SmolLM2/tokenizer.json");   // pre "smollm"
//   // damaged: "SmolLM2/tokenizer.json: field 'model.merges[3]' is not ..."
//   BPEVocab v = parse_tokenizer_json(text, "tokenizer.json");  v.eos = ...;  BPETokenizer t(v);
#pragma once
#include <string>

#include "text/bpe_tokenizer.h"

namespace neat {

// The vocabulary a tokenizer.json's text describes; `path` names it in errors.
BPEVocab parse_tokenizer_json(const std::string& text, const std::string& path);
// The tokenizer of a tokenizer.json file; the vocabulary's own checks also name the file.
BPETokenizer load_tokenizer_json(const std::string& path);

// The exact regex strings of the pre-tokenizers that Split steps may name.
extern const char* const kGpt2Regex;
extern const char* const kLlama3Regex;

}  // namespace neat
