#include "text/bpe_tokenizer.h"

#include <cstdio>
#include <unordered_map>

#include "tensor/check.h"
#include "text/byte_level.h"
#include "text/unicode.h"

namespace neat {

namespace {

const char* kSpaceMark = "\xE2\x96\x81";  // ▁ U+2581, SentencePiece's space

std::string byte_token(unsigned char b) {
  char text[8];
  std::snprintf(text, sizeof text, "<0x%02X>", b);
  return text;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// The UTF-8 characters of valid UTF-8 `text`, one string each.
std::vector<std::string> characters(const std::string& text) {
  std::vector<std::string> out;
  for (char32_t c : utf8_decode(text)) out.push_back(utf8_encode(c));
  return out;
}

}  // namespace

const char* token_type_name(TokenType t) {
  switch (t) {
    case TokenType::kNormal: return "normal";
    case TokenType::kUnknown: return "unknown";
    case TokenType::kControl: return "control";
    case TokenType::kUserDefined: return "user-defined";
    case TokenType::kUnused: return "unused";
    case TokenType::kByte: return "byte";
  }
  return "invalid";
}

BPETokenizer::BPETokenizer(BPEVocab vocab)
    : vocab_(std::move(vocab)),
      pre_(pre_tokenizer_by_name(vocab_.kind == BPEKind::kByteLevel ? vocab_.pre_tokenizer
                                                                     : "gpt2")),
      ranks_(vocab_.merges) {
  if (vocab_.types.empty()) vocab_.types.assign(vocab_.tokens.size(), TokenType::kNormal);
  byte_ids_.fill(-1);
  for (size_t id = 0; id < vocab_.tokens.size(); ++id) ids_.emplace(vocab_.tokens[id], id);
  for (int b = 0; b < 256; ++b) {
    auto it = ids_.find(byte_token(static_cast<unsigned char>(b)));
    if (it == ids_.end()) continue;
    byte_ids_[b] = it->second;
    byte_values_[it->second] = static_cast<unsigned char>(b);
  }
  check_vocab();
  std::vector<std::pair<std::string, int64_t>> all, user;
  for (size_t id = 0; id < vocab_.tokens.size(); ++id) {
    const TokenType t = vocab_.types[id];
    if (t == TokenType::kControl || t == TokenType::kUserDefined)
      all.emplace_back(vocab_.tokens[id], int64_t(id));
    if (t == TokenType::kUserDefined) user.emplace_back(vocab_.tokens[id], int64_t(id));
  }
  all_added_ = AddedTokens(all);
  user_added_ = AddedTokens(user);
}

void BPETokenizer::check_vocab() const {
  const size_t n = vocab_.tokens.size();
  NEAT_CHECK(n > 0, "tokenizer: the vocabulary is empty");
  NEAT_CHECK(vocab_.types.size() == n, "tokenizer: ", vocab_.types.size(), " token types for ",
             n, " tokens");
  NEAT_CHECK(vocab_.scores.empty() || vocab_.scores.size() == n, "tokenizer: ",
             vocab_.scores.size(), " scores for ", n, " tokens");
  for (size_t id = 0; id < n; ++id) {
    const int32_t t = int32_t(vocab_.types[id]);
    NEAT_CHECK(t >= 1 && t <= 6, "tokenizer: token ", id, " has the unknown type ", t);
  }
  const std::pair<const char*, int64_t> specials[] = {
      {"bos", vocab_.bos}, {"eos", vocab_.eos}, {"pad", vocab_.pad}, {"unk", vocab_.unk}};
  for (const auto& [name, id] : specials)
    NEAT_CHECK(id >= -1 && id < int64_t(n), "tokenizer: the ", name, " id ", id,
               " is outside the vocabulary of ", n);
  for (const auto& [left, right] : vocab_.merges)
    NEAT_CHECK(ids_.count(left + right), "tokenizer: the merge '", left, " ", right,
               "' makes '", left + right, "', which is not a token");
  if (vocab_.kind == BPEKind::kSentencePiece) {
    NEAT_CHECK(!vocab_.merges.empty() || !vocab_.scores.empty(),
               "tokenizer: a SentencePiece vocabulary needs merges or scores");
    if (vocab_.byte_fallback)
      for (int b = 0; b < 256; ++b)
        NEAT_CHECK(byte_ids_[b] >= 0 || vocab_.unk >= 0, "tokenizer: byte fallback without the ",
                   byte_token(static_cast<unsigned char>(b)), " token nor an unk");
  }
}

int64_t BPETokenizer::id_of(const std::string& token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

const std::string& BPETokenizer::token(int64_t id) const {
  NEAT_CHECK(id >= 0 && id < vocab_size(), "tokenizer: token id ", id,
             " is outside the vocabulary of ", vocab_size());
  return vocab_.tokens[size_t(id)];
}

TokenType BPETokenizer::type(int64_t id) const {
  token(id);
  return vocab_.types[size_t(id)];
}

// A merged symbol's id. One that is no token: SentencePiece, its bytes as <0xXX> tokens (byte
// fallback), else unk, else an error; byte-level (a vocabulary without some rare byte, such as
// SmolLM2's 0x04), unk, else nothing (HF's BPE without unk_token and llama.cpp drop it).
void BPETokenizer::push_symbol(const std::string& symbol, std::vector<int64_t>& out) const {
  const int64_t id = id_of(symbol);
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  if (vocab_.kind == BPEKind::kSentencePiece && vocab_.byte_fallback) {
    bool all = true;
    for (unsigned char b : symbol) all = all && byte_ids_[b] >= 0;
    if (all) {
      for (unsigned char b : symbol) out.push_back(byte_ids_[b]);
      return;
    }
  }
  if (vocab_.unk < 0 && vocab_.kind == BPEKind::kByteLevel) return;
  NEAT_CHECK(vocab_.unk >= 0, "tokenizer: the symbol '", symbol,
             "' is not in the vocabulary and there is no unk token");
  out.push_back(vocab_.unk);
}

// A byte-level piece: its bytes' symbols merged (or the whole piece, with ignore_merges).
void BPETokenizer::encode_piece(const std::string& piece, std::vector<int64_t>& out) const {
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->ids.find(piece);
    if (it != cache_->ids.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int64_t> ids;
  const std::string symbols = byte_level_encode(piece);
  const int64_t whole = vocab_.ignore_merges ? id_of(symbols) : -1;
  if (whole >= 0) {
    ids.push_back(whole);
  } else {
    for (const std::string& s : merge_symbols(characters(symbols), ranks_.priority()))
      push_symbol(s, ids);
  }
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->ids.size() >= kCacheSize) cache_->ids.clear();
  cache_->ids.emplace(piece, std::move(ids));
}

// One stretch of text between added tokens. `first`: it starts the text; `after_special`: it
// starts the text or follows an added token.
void BPETokenizer::encode_text(std::string text, bool first, bool after_special,
                               std::vector<int64_t>& out) const {
  if (vocab_.kind == BPEKind::kByteLevel) {
    if (vocab_.add_prefix_space && text[0] != ' ') text = " " + text;
    for (const std::string& piece : pretokenize(text, pre_)) encode_piece(piece, out);
    return;
  }
  if ((vocab_.space_prefix == SpacePrefix::kFirst && first) ||
      (vocab_.space_prefix == SpacePrefix::kEverySegment && after_special))
    text = " " + text;
  text = replace_all(text, " ", kSpaceMark);
  MergePriority by_score = [this](const std::string& l, const std::string& r) {
    const int64_t id = id_of(l + r);
    return id < 0 ? kNoMerge : -double(vocab_.scores[size_t(id)]);
  };
  for (const std::string& s :
       merge_symbols(characters(text), vocab_.merges.empty() ? by_score : ranks_.priority()))
    push_symbol(s, out);
}

std::vector<int64_t> BPETokenizer::encode(const std::string& text,
                                          const EncodeOptions& options) const {
  std::vector<int64_t> out;
  if (options.add_bos) {
    NEAT_CHECK(vocab_.bos >= 0, "tokenizer: add_bos asked for, but the vocabulary has no bos");
    out.push_back(vocab_.bos);
  }
  bool first = true, after_special = true;
  for (const TextSegment& segment : (options.parse_special ? all_added_ : user_added_).split(text)) {
    if (segment.id >= 0) {
      out.push_back(segment.id);
      after_special = true;
    } else {
      encode_text(segment.text, first, after_special, out);
      after_special = false;
    }
    first = false;
  }
  if (options.add_eos) {
    NEAT_CHECK(vocab_.eos >= 0, "tokenizer: add_eos asked for, but the vocabulary has no eos");
    out.push_back(vocab_.eos);
  }
  return out;
}

// Byte-level: normal tokens' symbols back to bytes. SentencePiece: <0xXX> tokens to their
// byte, "▁" to a space, and the prefix's one space off the front (HF's Strip decoder).
// Control, unknown and user-defined tokens: their text as it is.
std::string BPETokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string out;
  const bool sentencepiece = vocab_.kind == BPEKind::kSentencePiece;
  for (int64_t id : ids) {
    const std::string& text = token(id);
    const TokenType t = vocab_.types[size_t(id)];
    if (t == TokenType::kControl || t == TokenType::kUnknown) {
      if (!skip_special) out += text;
    } else if (t == TokenType::kUserDefined) {
      out += text;
    } else if (auto byte = byte_values_.find(id); sentencepiece && byte != byte_values_.end()) {
      out += char(byte->second);
    } else {
      out += sentencepiece ? replace_all(text, kSpaceMark, " ") : byte_level_decode(text);
    }
  }
  if (sentencepiece && vocab_.space_prefix != SpacePrefix::kNone && !out.empty() && out[0] == ' ')
    out.erase(0, 1);
  return out;
}

}  // namespace neat
