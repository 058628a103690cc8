#include "text/wordpiece.h"

#include <fstream>

#include "tensor/check.h"
#include "text/unicode.h"

namespace neat {

namespace {

// The CJK Unified Ideographs blocks BERT treats as words of their own (not Hangul, kana).
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Tab, newline and return count as whitespace, not control.
bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  const CharClass k = char_class(c);
  return k == CharClass::kOther || k == CharClass::kUnassigned;
}

// BERT counts all non-alphanumeric ASCII as punctuation ($, +, ^, ` ...), then Unicode P*.
bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126))
    return true;
  return char_class(c) == CharClass::kPunctuation;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> tokens, WordPieceOptions options)
    : tokens_(std::move(tokens)), options_(std::move(options)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    auto [it, fresh] = ids_.emplace(tokens_[i], int64_t(i));
    NEAT_CHECK(fresh, "wordpiece: token '", tokens_[i], "' appears twice (ids ", it->second,
               " and ", i, ")");
  }
  auto special = [&](const std::string& token) {
    const int64_t id = id_of(token);
    NEAT_CHECK(id >= 0, "wordpiece: the vocabulary has no special token '", token, "'");
    return id;
  };
  unk_id_ = special(options_.unk_token);
  special_ = {special(options_.cls_token), special(options_.sep_token),
              special(options_.pad_token), false};
}

WordPieceTokenizer WordPieceTokenizer::from_file(const std::string& vocab_path,
                                                 WordPieceOptions options) {
  std::ifstream in(vocab_path, std::ios::binary);
  NEAT_CHECK(in.good(), "wordpiece: cannot open the vocabulary file ", vocab_path);
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens.push_back(line);
  }
  NEAT_CHECK(!tokens.empty(), "wordpiece: the vocabulary file ", vocab_path, " is empty");
  try {
    return WordPieceTokenizer(std::move(tokens), std::move(options));
  } catch (const std::exception& e) {
    NEAT_CHECK(false, vocab_path, ": ", e.what());
  }
}

int64_t WordPieceTokenizer::id_of(const std::string& token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

const std::string& WordPieceTokenizer::token(int64_t id) const {
  NEAT_CHECK(id >= 0 && id < vocab_size(), "wordpiece: id ", id, " is outside the vocabulary of ",
             vocab_size());
  return tokens_[size_t(id)];
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(const std::string& text) const {
  std::u32string cleaned;
  for (char32_t c : utf8_decode(text)) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_white_space(c)) {
      cleaned.push_back(' ');
    } else if (options_.handle_chinese_chars && is_cjk(c)) {
      cleaned += U' ';
      cleaned.push_back(c);
      cleaned += U' ';
    } else {
      cleaned.push_back(c);
    }
  }
  const bool strip = options_.strip_accents < 0 ? options_.lowercase : options_.strip_accents == 1;
  if (strip) {
    std::u32string kept;
    for (char32_t c : nfd(cleaned))
      if (char_class(c) != CharClass::kNonspacingMark) kept.push_back(c);
    cleaned = kept;
  }
  if (options_.lowercase) cleaned = lowercase(cleaned);

  std::vector<std::string> words;
  std::u32string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(utf8_encode(word));
    word.clear();
  };
  for (char32_t c : cleaned) {
    if (is_white_space(c)) {
      flush();
    } else if (is_punctuation(c)) {
      flush();
      words.push_back(utf8_encode(c));
    } else {
      word.push_back(c);
    }
  }
  flush();
  return words;
}

// Greedy longest match: from each start, the longest vocabulary entry (with "##" after the
// first piece); no entry at some start makes the whole word [UNK].
void WordPieceTokenizer::word_pieces(const std::u32string& word,
                                     std::vector<std::string>& out) const {
  if (int64_t(word.size()) > options_.max_chars_per_word) {
    out.push_back(options_.unk_token);
    return;
  }
  std::vector<std::string> pieces;
  for (size_t start = 0; start < word.size();) {
    size_t end = word.size();
    std::string found;
    for (; end > start; --end) {
      std::string piece = utf8_encode(word.substr(start, end - start));
      if (start > 0) piece = options_.prefix + piece;
      if (ids_.count(piece)) {
        found = std::move(piece);
        break;
      }
    }
    if (found.empty()) {
      out.push_back(options_.unk_token);
      return;
    }
    pieces.push_back(std::move(found));
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (const std::string& word : basic_tokenize(text)) word_pieces(utf8_decode(word), out);
  return out;
}

std::vector<int64_t> WordPieceTokenizer::ids(const std::string& text) const {
  std::vector<int64_t> out;
  for (const std::string& piece : tokenize(text)) out.push_back(ids_.at(piece));
  return out;
}

Encoding WordPieceTokenizer::encode(const std::string& a, const std::string* b,
                                    int64_t max_len) const {
  std::vector<int64_t> second;
  if (b) second = ids(*b);
  return build_inputs(ids(a), b ? &second : nullptr, special_, max_len);
}

}  // namespace neat
