// GPT-2 / RoBERTa byte-level BPE (Hugging Face's ByteLevel pre-tokenizer + BPE model +
// RobertaProcessing), from vocab.json (token -> id) and merges.txt (one "left right" pair a
// line, in priority order; a first "#version" line is skipped).
//
//   1. pre-tokenise with GPT-2's pattern, written out by hand (pretokenize below):
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      (optionally with a space put in front of the text first: add_prefix_space)
//   2. each piece's UTF-8 bytes become printable characters (bytes_to_unicode: the 188
//      printable Latin-1 bytes stand for themselves, the others map to U+0100 onwards)
//   3. merge adjacent symbols, always the pair earliest in merges.txt, until none applies
//   4. look each symbol up in vocab.json (error naming it when absent: byte-level
//      vocabularies hold every byte)
//
//   ByteLevelBPE tok = ByteLevelBPE::from_files("vocab.json", "merges.txt");
//   tok.tokenize("Hello world")   // {"Hello", "Ġworld"}
//   Encoding e = tok.encode("a premise", &hypothesis, 128);   // <s> a </s></s> b </s>
#pragma once
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "text/encoding.h"

namespace neat {

struct BPEOptions {
  bool add_prefix_space = false;
  std::string bos_token = "<s>", eos_token = "</s>", pad_token = "<pad>";
};

class ByteLevelBPE : public Tokenizer {
 public:
  ByteLevelBPE(std::map<std::string, int64_t> vocab,
               std::vector<std::pair<std::string, std::string>> merges, BPEOptions options = {});
  // Errors name the file and what is wrong (not JSON, a bad merges line, ...).
  static ByteLevelBPE from_files(const std::string& vocab_json, const std::string& merges_txt,
                                 BPEOptions options = {});

  // GPT-2's pre-tokenising split of UTF-8 text (before the byte mapping).
  static std::vector<std::string> pretokenize(const std::string& text);
  // The printable character standing for byte b (bytes_to_unicode), as UTF-8.
  static std::string byte_symbol(unsigned char b);

  std::vector<std::string> tokenize(const std::string& text) const;
  std::vector<int64_t> ids(const std::string& text) const;
  // <s> a </s> (</s> b </s>), every token type 0, truncated to max_len when > 0.
  Encoding encode(const std::string& a, const std::string* b = nullptr,
                  int64_t max_len = 0) const override;

  int64_t vocab_size() const override { return int64_t(vocab_.size()); }
  int64_t id_of(const std::string& token) const;  // -1 when absent
  const SpecialTokens& special() const override { return special_; }

 private:
  std::vector<std::string> merge(const std::string& piece) const;
  std::map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int64_t> ranks_;  // "left right" -> priority
  BPEOptions options_;
  SpecialTokens special_;
};

}  // namespace neat
