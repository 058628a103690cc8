// What a tokenizer hands the model: token ids with their token types and attention mask, and
// the model-side steps shared by WordPiece and byte-level BPE: special tokens around one
// sequence or a pair, truncation to a length, padding.
//
//   SpecialTokens bert{cls, sep, pad, /*double_sep=*/false};    // [CLS] a [SEP] b [SEP]
//   SpecialTokens roberta{bos, eos, pad, /*double_sep=*/true};  // <s> a </s></s> b </s>
//   Encoding e = build_inputs(ids_a, &ids_b, bert, /*max_len=*/128);
//   pad_to(e, 128, bert.pad);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace neat {

struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> type_ids;        // 0 for the first sequence, 1 for the second (BERT)
  std::vector<int64_t> attention_mask;  // 1 for a token, 0 for padding
  int64_t size() const { return int64_t(ids.size()); }
};

struct SpecialTokens {
  int64_t cls = 0, sep = 0, pad = 0;  // RoBERTa: <s>, </s>, <pad>
  bool double_sep = false;   // RoBERTa: "</s></s>" between a pair, every token type 0
};

// The number of special tokens build_inputs adds to one sequence or a pair.
int64_t special_token_count(const SpecialTokens& special, bool pair);

// [CLS] a [SEP] (b [SEP]) with types 0...0 1...1 (RoBERTa: <s> a </s> (</s> b </s>), all 0).
// max_len > 0 truncates first, as Hugging Face's "longest_first": with T = max_len minus the
// special tokens and n1 <= n2 the two lengths, the shorter keeps n1 when the longer can take
// T - n1 >= n1, otherwise they get T / 2 and T / 2 + T % 2 (the longer the larger half).
// Error when max_len leaves no room for the special tokens.
Encoding build_inputs(std::vector<int64_t> a, const std::vector<int64_t>* b,
                      const SpecialTokens& special, int64_t max_len = 0);

// What the training programs need of a tokenizer (WordPieceTokenizer, ByteLevelBPE).
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Special tokens around a (and b when given), truncated to max_len when > 0, not padded.
  virtual Encoding encode(const std::string& a, const std::string* b = nullptr,
                          int64_t max_len = 0) const = 0;
  virtual const SpecialTokens& special() const = 0;
  virtual int64_t vocab_size() const = 0;
};

// Appends pad ids (type 0, mask 0) up to length; longer encodings are left as they are.
void pad_to(Encoding& encoding, int64_t length, int64_t pad_id);

}  // namespace neat
