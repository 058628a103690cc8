// GPT-2 / RoBERTa byte-level BPE (Hugging Face's ByteLevel pre-tokenizer + BPE model +
// RobertaProcessing), from vocab.json (token -> id) and merges.txt (one "left right" pair a
// line, in priority order; a first "#version" line is skipped).
//
//   1. pre-tokenise with GPT-2's pattern (text/pretokenize.h, PreSplit::kGpt2)
//      (optionally with a space put in front of the text first: add_prefix_space)
//   2. each piece's UTF-8 bytes become printable characters (text/byte_level.h)
//   3. merge adjacent symbols, always the pair earliest in merges.txt, until none applies
//      (text/bpe_merge.h)
//   4. look each symbol up in vocab.json (error naming it when absent: byte-level
//      vocabularies hold every byte)
//
//   ByteLevelBPE tok = ByteLevelBPE::from_files("vocab.json", "merges.txt");
//   tok.tokenize("Hello world")   // {"Hello", "Ġworld"}
//   Encoding e = tok.encode("a premise", &hypothesis, 128);   // <s> a </s></s> b </s>
#pragma once
#include <map>
#include <string>
#include <vector>

#include "text/bpe_merge.h"
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

  std::vector<std::string> tokenize(const std::string& text) const;
  std::vector<int64_t> ids(const std::string& text) const;
  // <s> a </s> (</s> b </s>), every token type 0, truncated to max_len when > 0.
  Encoding encode(const std::string& a, const std::string* b = nullptr,
                  int64_t max_len = 0) const override;

  int64_t vocab_size() const override { return int64_t(vocab_.size()); }
  int64_t id_of(const std::string& token) const;  // -1 when absent
  const SpecialTokens& special() const override { return special_; }

 private:
  std::map<std::string, int64_t> vocab_;
  MergeRanks ranks_;
  BPEOptions options_;
  SpecialTokens special_;
};

}  // namespace neat
