#include "text/bpe.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "tensor/check.h"
#include "tensor/json.h"
#include "text/unicode.h"

namespace neat {

namespace {

bool is_letter(char32_t c) { return char_class(c) == CharClass::kLetter; }
bool is_number(char32_t c) { return char_class(c) == CharClass::kNumber; }
bool is_other(char32_t c) { return !is_white_space(c) && !is_letter(c) && !is_number(c); }

std::string read_text(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  NEAT_CHECK(in.good(), "bpe: cannot open the ", what, " file ", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

// GPT-2's bytes_to_unicode: bytes '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF stand for
// themselves; the remaining 68 bytes, in order, become U+0100, U+0101, ...
std::string ByteLevelBPE::byte_symbol(unsigned char b) {
  auto printable = [](int x) {
    return (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
  };
  if (printable(b)) return utf8_encode(char32_t(b));
  int shifted = 0;
  for (int x = 0; x < b; ++x) shifted += !printable(x);
  return utf8_encode(char32_t(256 + shifted));
}

// The pattern's alternatives tried in order at each position, as the regex engine does:
//   's 't 're 've 'm 'll 'd   (lowercase contractions)
//   ' '? letters+   ' '? numbers+   ' '? others+   (others: neither space, letter nor number)
//   spaces+ not followed by a non-space: a run of n spaces before a word yields n - 1 of
//   them (the last joins the word as its ' '), a run at the end of the text all of them
//   spaces+ (a single space before a non-space that took no ' ', e.g. "\n" before "x")
std::vector<std::string> ByteLevelBPE::pretokenize(const std::string& text) {
  const std::u32string s = utf8_decode(text);
  const size_t n = s.size();
  std::vector<std::string> pieces;
  auto run = [&](size_t from, bool (*in_class)(char32_t)) {
    size_t j = from;
    while (j < n && in_class(s[j])) ++j;
    return j;
  };
  for (size_t i = 0; i < n;) {
    size_t end = i;
    if (s[i] == '\'' && i + 1 < n) {
      const char32_t c1 = s[i + 1], c2 = i + 2 < n ? s[i + 2] : 0;
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') end = i + 2;
      else if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
        end = i + 3;
    }
    if (end == i) {
      const size_t body = s[i] == ' ' && i + 1 < n ? i + 1 : i;
      for (bool (*in_class)(char32_t) : {is_letter, is_number, is_other}) {
        if (in_class(s[body])) { end = run(body, in_class); break; }
      }
    }
    if (end == i) {  // s[i] is whitespace
      const size_t stop = run(i, is_white_space);
      end = stop == n || stop - i == 1 ? stop : stop - 1;
    }
    pieces.push_back(utf8_encode(s.substr(i, end - i)));
    i = end;
  }
  return pieces;
}

ByteLevelBPE::ByteLevelBPE(std::map<std::string, int64_t> vocab,
                           std::vector<std::pair<std::string, std::string>> merges,
                           BPEOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  for (size_t i = 0; i < merges.size(); ++i)
    ranks_.emplace(merges[i].first + " " + merges[i].second, int64_t(i));
  auto special = [&](const std::string& token) {
    const int64_t id = id_of(token);
    NEAT_CHECK(id >= 0, "bpe: the vocabulary has no special token '", token, "'");
    return id;
  };
  special_ = {special(options_.bos_token), special(options_.eos_token),
              special(options_.pad_token), true};
}

ByteLevelBPE ByteLevelBPE::from_files(const std::string& vocab_json,
                                      const std::string& merges_txt, BPEOptions options) {
  std::map<std::string, int64_t> vocab;
  try {
    const Json json = Json::parse(read_text(vocab_json, "vocabulary"));
    for (const auto& [token, id] : json.as_object()) vocab[token] = id.as_int();
  } catch (const std::exception& e) {
    NEAT_CHECK(false, vocab_json, ": not a JSON object of token -> id (", e.what(), ")");
  }
  std::vector<std::pair<std::string, std::string>> merges;
  std::istringstream lines(read_text(merges_txt, "merges"));
  std::string line;
  for (int64_t number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if ((number == 1 && line.rfind("#version", 0) == 0) || line.empty()) continue;
    const size_t space = line.find(' ');
    NEAT_CHECK(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                   line.find(' ', space + 1) == std::string::npos,
               merges_txt, ": line ", number, " is not \"left right\": '", line, "'");
    merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  try {
    return ByteLevelBPE(std::move(vocab), std::move(merges), std::move(options));
  } catch (const std::exception& e) {
    NEAT_CHECK(false, vocab_json, ": ", e.what());
  }
}

int64_t ByteLevelBPE::id_of(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

// Symbols start as one per byte; repeatedly the adjacent pair with the lowest rank is merged
// (every occurrence, left to right) until no adjacent pair has a rank.
std::vector<std::string> ByteLevelBPE::merge(const std::string& piece) const {
  std::vector<std::string> symbols;
  for (unsigned char b : piece) symbols.push_back(byte_symbol(b));
  while (symbols.size() > 1) {
    int64_t best = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = ranks_.find(symbols[i] + " " + symbols[i + 1]);
      if (it != ranks_.end() && it->second < best) best = it->second;
    }
    if (best == std::numeric_limits<int64_t>::max()) break;
    std::vector<std::string> merged;
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size()) {
        auto it = ranks_.find(symbols[i] + " " + symbols[i + 1]);
        if (it != ranks_.end() && it->second == best) {
          merged.push_back(symbols[i] + symbols[i + 1]);
          ++i;
          continue;
        }
      }
      merged.push_back(symbols[i]);
    }
    symbols = std::move(merged);
  }
  return symbols;
}

std::vector<std::string> ByteLevelBPE::tokenize(const std::string& text) const {
  std::string prepared = text;
  if (options_.add_prefix_space && !text.empty() && text[0] != ' ') prepared = " " + text;
  std::vector<std::string> out;
  for (const std::string& piece : pretokenize(prepared))
    for (std::string& symbol : merge(piece)) out.push_back(std::move(symbol));
  return out;
}

std::vector<int64_t> ByteLevelBPE::ids(const std::string& text) const {
  std::vector<int64_t> out;
  for (const std::string& symbol : tokenize(text)) {
    const int64_t id = id_of(symbol);
    NEAT_CHECK(id >= 0, "bpe: the symbol '", symbol, "' is not in the vocabulary");
    out.push_back(id);
  }
  return out;
}

Encoding ByteLevelBPE::encode(const std::string& a, const std::string* b, int64_t max_len) const {
  std::vector<int64_t> second;
  if (b) second = ids(*b);
  return build_inputs(ids(a), b ? &second : nullptr, special_, max_len);
}

}  // namespace neat
