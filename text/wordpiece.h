// BERT's WordPiece tokenizer (Hugging Face BertTokenizerFast / tokenizers' BertNormalizer +
// BertPreTokenizer + WordPiece), from a vocab.txt (one token a line, the id is the line number).
//
// Basic tokenisation, in order:
//   clean: drop NUL, U+FFFD and control characters (C*, except tab / newline / return), turn
//          every whitespace character into a space
//   CJK:   put spaces around each CJK ideograph (so each is a word of its own)
//   accents (when strip_accents, which follows lowercase unless set): NFD, drop Mn marks
//   lowercase (when lowercase)
//   split on whitespace; every punctuation character (ASCII punctuation or P*) is a word alone
// Then each word: greedy longest match against the vocabulary, pieces after the first
// prefixed "##"; a word with no full match, or longer than 100 characters, is one [UNK].
//
//   WordPieceTokenizer tok = WordPieceTokenizer::from_file("minilm/vocab.txt");
//   tok.tokenize("Héllo, world!")   // {"hello", ",", "world", "!"}
//   Encoding e = tok.encode("a premise", "a hypothesis", /*max_len=*/128);
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "text/encoding.h"

namespace neat {

struct WordPieceOptions {
  bool lowercase = true;
  int strip_accents = -1;  // -1: as lowercase; 0: keep accents; 1: strip them
  bool handle_chinese_chars = true;
  int64_t max_chars_per_word = 100;
  std::string unk_token = "[UNK]", cls_token = "[CLS]", sep_token = "[SEP]",
              pad_token = "[PAD]", prefix = "##";
};

class WordPieceTokenizer : public Tokenizer {
 public:
  // tokens[i] has id i. Errors: a duplicate token, or a special token missing.
  WordPieceTokenizer(std::vector<std::string> tokens, WordPieceOptions options = {});
  // Errors name the file (missing, unreadable, empty) or the line.
  static WordPieceTokenizer from_file(const std::string& vocab_path, WordPieceOptions options = {});

  // The words after basic tokenisation (UTF-8); invalid UTF-8 is an error naming the offset.
  std::vector<std::string> basic_tokenize(const std::string& text) const;
  // Word pieces, e.g. {"un", "##aff", "##able"}.
  std::vector<std::string> tokenize(const std::string& text) const;
  // Ids of the pieces, no special tokens.
  std::vector<int64_t> ids(const std::string& text) const;
  // [CLS] a [SEP] (b [SEP]), truncated to max_len when > 0 (encoding.h), not padded.
  Encoding encode(const std::string& a, const std::string* b = nullptr,
                  int64_t max_len = 0) const override;

  int64_t vocab_size() const override { return int64_t(tokens_.size()); }
  // -1 when absent.
  int64_t id_of(const std::string& token) const;
  const std::string& token(int64_t id) const;  // error when out of range
  const SpecialTokens& special() const override { return special_; }
  int64_t unk_id() const { return unk_id_; }
  const WordPieceOptions& options() const { return options_; }

 private:
  void word_pieces(const std::u32string& word, std::vector<std::string>& out) const;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> ids_;
  WordPieceOptions options_;
  SpecialTokens special_;
  int64_t unk_id_ = 0;
};

}  // namespace neat
