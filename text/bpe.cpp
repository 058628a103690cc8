#include "text/bpe.h"

#include <sstream>

#include "tensor/check.h"
#include "tensor/json.h"
#include "text/byte_level.h"
#include "text/pretokenize.h"
#include "tensor/files.h"

namespace neat {

ByteLevelBPE::ByteLevelBPE(std::map<std::string, int64_t> vocab,
                           std::vector<std::pair<std::string, std::string>> merges,
                           BPEOptions options)
    : vocab_(std::move(vocab)), ranks_(merges), options_(std::move(options)) {
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
    const Json json = Json::parse(read_file(vocab_json, "vocabulary"));
    for (const auto& [token, id] : json.as_object()) vocab[token] = id.as_int();
  } catch (const std::exception& e) {
    NEAT_CHECK(false, vocab_json, ": not a JSON object of token -> id (", e.what(), ")");
  }
  std::vector<std::pair<std::string, std::string>> merges;
  std::istringstream lines(read_file(merges_txt, "merges"));
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

std::vector<std::string> ByteLevelBPE::tokenize(const std::string& text) const {
  std::string prepared = text;
  if (options_.add_prefix_space && !text.empty() && text[0] != ' ') prepared = " " + text;
  std::vector<std::string> out;
  for (const std::string& piece : pre_split(prepared, PreSplit::kGpt2)) {
    std::vector<std::string> symbols;  // one per byte
    for (unsigned char b : piece) symbols.push_back(byte_symbol(b));
    for (std::string& symbol : merge_symbols(std::move(symbols), ranks_.priority()))
      out.push_back(std::move(symbol));
  }
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
