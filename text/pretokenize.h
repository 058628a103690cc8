// Pre-tokenizers of byte-level BPE models: the text is cut into pieces (words, numbers,
// punctuation, whitespace runs) before merging, and no token crosses a cut. Each regex of the
// Hugging Face / llama.cpp configurations is written out by hand over text/unicode.h (no
// std::regex):
//
//   gpt2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   llama3  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   smollm  \p{N} (every digit alone, HF's Digits(individual_digits)), then gpt2 on the rest
//           (llama.cpp's "starcoder" and "refact" are the same)
//
//   PreTokenizer p = pre_tokenizer_by_name("llama3");    // also llama.cpp's "llama-bpe"
//   pretokenize("I'LL pay 12345!\n\n", p)   // {"I", "'LL", " pay", " ", "123", "45", "!\n\n"}
#pragma once
#include <string>
#include <vector>

namespace neat {

// One splitting step; a pre-tokenizer applies its steps in order, each to every piece of the
// previous one.
enum class PreSplit { kGpt2, kLlama3, kDigits };

struct PreTokenizer {
  std::string name;              // as given to pre_tokenizer_by_name
  std::vector<PreSplit> steps;
};

// "gpt2" (also "gpt-2", "default"), "llama3" (also "llama-bpe"), "smollm" (also "starcoder",
// "refact"); error naming an unknown name and the known ones.
PreTokenizer pre_tokenizer_by_name(const std::string& name);

// The pieces of UTF-8 `text` (they concatenate back to it); invalid UTF-8: error naming the offset.
std::vector<std::string> pretokenize(const std::string& text, const PreTokenizer& pre);
// One step on its own (the GPT-2 split of RoBERTa's ByteLevelBPE).
std::vector<std::string> pre_split(const std::string& text, PreSplit step);

}  // namespace neat
