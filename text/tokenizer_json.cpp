#include "text/tokenizer_json.h"

#include <map>
#include <vector>

#include "tensor/check.h"
#include "tensor/json.h"
#include "tensor/files.h"

namespace neat {

const char* const kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

const char* kSpaceMark = "\xE2\x96\x81";  // ▁

// A JSON value with its dotted name, so that every error names the file and the field.
struct Field {
  const Json& json;
  std::string name;
  const std::string& path;

  [[noreturn]] void fail(const std::string& what) const {
    throw_error(__FILE__, __LINE__, path, ": field '", name, "' ", what);
  }
  bool has(const std::string& key) const {
    return json.is_object() && json.contains(key) && !json[key].is_null();
  }
  Field operator[](const std::string& key) const {
    if (!json.is_object()) fail("is not an object");
    const std::string child = name.empty() ? key : name + "." + key;
    if (!json.contains(key)) Field{json, child, path}.fail("is missing");
    return {json[key], child, path};
  }
  Field operator[](size_t i) const { return {json[i], name + "[" + std::to_string(i) + "]", path}; }
  size_t size() const {
    if (!json.is_array()) fail("is not an array");
    return json.size();
  }
  template <typename T, typename Get>
  T as(Get get) const {
    try {
      return get(json);
    } catch (const std::exception& e) {
      fail(std::string("has the wrong type (") + e.what() + ")");
    }
  }
  std::string str() const { return as<std::string>([](const Json& j) { return j.as_string(); }); }
  int64_t integer() const { return as<int64_t>([](const Json& j) { return j.as_int(); }); }
  bool flag(const std::string& key, bool fallback) const {
    return has(key) ? (*this)[key].as<bool>([](const Json& j) { return j.as_bool(); }) : fallback;
  }
  std::string type() const { return (*this)["type"].str(); }
};

// The tokens by id from model.vocab and added_tokens; every id in 0..n-1 must be given once.
// Added tokens are matched in the raw text, whole (no lstrip / rstrip / single_word).
void read_tokens(const Field& root, BPEVocab& v) {
  std::map<int64_t, std::pair<std::string, TokenType>> by_id;
  const Field vocab = root["model"]["vocab"];
  if (!vocab.json.is_object()) vocab.fail("is not an object of token -> id");
  for (const auto& [token, id] : vocab.json.as_object())
    by_id[Field{id, vocab.name + "." + token, root.path}.integer()] = {token, TokenType::kNormal};
  if (root.has("added_tokens")) {
    const Field added = root["added_tokens"];
    for (size_t i = 0; i < added.size(); ++i) {
      const int64_t id = added[i]["id"].integer();
      const std::string content = added[i]["content"].str();
      for (const char* option : {"lstrip", "rstrip", "single_word"})
        if (added[i].flag(option, false)) added[i][option].fail("is set: not supported");
      // matched after the normalizer (which puts "▁" for spaces): not supported
      if (root.has("normalizer") && added[i].flag("normalized", false))
        added[i]["normalized"].fail("is true beside a normalizer: not supported");
      auto it = by_id.find(id);
      if (it != by_id.end() && it->second.first != content)
        added[i].fail("gives id " + std::to_string(id) + " to '" + content + "', the vocab to '" +
                      it->second.first + "'");
      by_id[id] = {content, added[i].flag("special", false) ? TokenType::kControl
                                                            : TokenType::kUserDefined};
    }
  }
  int64_t expected = 0;
  for (const auto& [id, entry] : by_id) {
    if (id != expected) vocab.fail("has no token with id " + std::to_string(expected));
    v.tokens.push_back(entry.first);
    v.types.push_back(entry.second);
    ++expected;
  }
}

void read_model(const Field& root, BPEVocab& v) {
  const Field model = root["model"];
  if (model.has("type") && model.type() != "BPE")
    model["type"].fail("is '" + model.type() + "': only BPE models are supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix", "dropout"})
    if (model.has(key) && !(model[key].json.is_string() && model[key].str().empty()))
      model[key].fail("is set: not supported");
  read_tokens(root, v);
  const Field merges = model["merges"];
  for (size_t i = 0; i < merges.size(); ++i) {
    const Field m = merges[i];
    if (m.json.is_array()) {
      if (m.size() != 2) m.fail("is not a [left, right] pair");
      v.merges.emplace_back(m[0].str(), m[1].str());
      continue;
    }
    const std::string line = m.str();
    const size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos)
      m.fail("is not \"left right\": '" + line + "'");
    v.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  v.byte_fallback = model.flag("byte_fallback", false);
  v.ignore_merges = model.flag("ignore_merges", false);
  if (model.has("unk_token")) {
    const std::string unk = model["unk_token"].str();
    for (size_t id = 0; id < v.tokens.size(); ++id)
      if (v.tokens[id] == unk) v.unk = int64_t(id);
    if (v.unk < 0) model["unk_token"].fail("names '" + unk + "', which is not a token");
  }
}

// SentencePiece's normalizer: [Prepend "▁"], Replace " " -> "▁" (alone or in a Sequence).
// Returns whether there is one.
bool read_normalizer(const Field& root, BPEVocab& v) {
  if (!root.has("normalizer")) return false;
  const Field n = root["normalizer"];
  std::vector<Field> steps;
  if (n.type() == "Sequence") {
    const Field list = n["normalizers"];
    for (size_t i = 0; i < list.size(); ++i) steps.push_back(list[i]);
  } else {
    steps.push_back(n);
  }
  bool prepend = false, replace = false;
  for (const Field& s : steps) {
    const std::string type = s.type();
    if (type == "Prepend" && s["prepend"].str() == kSpaceMark) {
      prepend = true;
    } else if (type == "Replace" && s["pattern"]["String"].str() == " " &&
               s["content"].str() == kSpaceMark) {
      replace = true;
    } else {
      s.fail("is a " + type + " normalizer: only LLaMA-2's Prepend \"▁\" and Replace \" \" -> "
             "\"▁\" are supported");
    }
  }
  if (!replace) n.fail("prepends \"▁\" without replacing spaces by it: not supported");
  v.kind = BPEKind::kSentencePiece;
  v.space_prefix = prepend ? SpacePrefix::kEverySegment : SpacePrefix::kNone;
  return true;
}

}  // namespace

namespace {

// Pre-tokenizer steps: their PreSplit list must be a known pre-tokenizer's. Returns whether a
// ByteLevel step was seen; Metaspace makes the vocabulary SentencePiece.
bool read_pre_step(const Field& s, std::vector<PreSplit>& splits, BPEVocab& v) {
  const std::string type = s.type();
  if (type == "Sequence") {
    bool byte_level = false;
    const Field list = s["pretokenizers"];
    for (size_t i = 0; i < list.size(); ++i) byte_level |= read_pre_step(list[i], splits, v);
    return byte_level;
  }
  if (type == "ByteLevel") {
    if (s.flag("use_regex", true)) splits.push_back(PreSplit::kGpt2);
    v.add_prefix_space = s.flag("add_prefix_space", false);
    return true;
  }
  if (type == "Digits") {
    if (!s.flag("individual_digits", false)) s.fail("is Digits without individual_digits");
    splits.push_back(PreSplit::kDigits);
  } else if (type == "Split") {
    if (!s["pattern"].has("Regex")) s["pattern"].fail("is not a Regex");
    const std::string regex = s["pattern"]["Regex"].str();
    if (regex == kGpt2Regex) splits.push_back(PreSplit::kGpt2);
    else if (regex == kLlama3Regex) splits.push_back(PreSplit::kLlama3);
    else s["pattern"]["Regex"].fail("is the regex '" + regex + "', which is none of GPT-2's and LLaMA-3's");
    if (s["behavior"].str() != "Isolated" || s.flag("invert", false))
      s.fail("is not an Isolated, non-inverted Split");
  } else if (type == "Metaspace") {
    if (s["replacement"].str() != kSpaceMark || s.flag("split", true))
      s.fail("is a Metaspace other than \"▁\" without split");
    const std::string scheme = s.has("prepend_scheme") ? s["prepend_scheme"].str() : "always";
    if (scheme != "first" && scheme != "always" && scheme != "never")
      s["prepend_scheme"].fail("is '" + scheme + "'");
    v.kind = BPEKind::kSentencePiece;
    v.space_prefix = scheme == "first"    ? SpacePrefix::kFirst
                     : scheme == "always" ? SpacePrefix::kEverySegment
                                          : SpacePrefix::kNone;
  } else {
    s.fail("is a " + type + " pre-tokenizer: not supported");
  }
  return false;
}

void read_pre_tokenizer(const Field& root, bool normalized, BPEVocab& v) {
  if (!root.has("pre_tokenizer")) {
    NEAT_CHECK(normalized, root.path,
               ": has neither a ByteLevel pre-tokenizer nor LLaMA-2's normalizer");
    return;
  }
  const Field pre = root["pre_tokenizer"];
  std::vector<PreSplit> splits;
  const bool byte_level = read_pre_step(pre, splits, v);
  if (v.kind == BPEKind::kSentencePiece) {
    if (byte_level || !splits.empty()) pre.fail("mixes SentencePiece and byte-level steps");
    return;
  }
  if (!byte_level) pre.fail("has no ByteLevel step");
  for (const char* name : {"gpt2", "llama3", "smollm"}) {
    if (pre_tokenizer_by_name(name).steps == splits) {
      v.pre_tokenizer = name;
      return;
    }
  }
  pre.fail("is a combination of splits that is not GPT-2's, LLaMA-3's nor SmolLM's");
}

// TemplateProcessing whose single-sequence template starts with a special token: that token
// is bos, added by default. ByteLevel (offsets only) adds nothing; others are refused.
void read_post_processor(const Field& p, BPEVocab& v) {
  const std::string type = p.type();
  if (type == "Sequence") {
    const Field list = p["processors"];
    for (size_t i = 0; i < list.size(); ++i) read_post_processor(list[i], v);
  } else if (type == "TemplateProcessing") {
    const Field single = p["single"];
    if (single.size() > 0 && single[0].has("SpecialToken")) {
      const std::string bos = single[0]["SpecialToken"]["id"].str();
      for (size_t id = 0; id < v.tokens.size(); ++id)
        if (v.tokens[id] == bos) v.bos = int64_t(id);
      if (v.bos < 0) single[0].fail("names '" + bos + "', which is not a token");
      v.add_bos = true;
    }
  } else if (type != "ByteLevel") {
    p.fail("is a " + type + " post-processor: not supported");
  }
}

}  // namespace

BPEVocab parse_tokenizer_json(const std::string& text, const std::string& path) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const std::exception& e) {
    NEAT_CHECK(false, path, ": not JSON (", e.what(), ")");
  }
  const Field root{json, "", path};
  BPEVocab v;
  read_model(root, v);
  const bool normalized = read_normalizer(root, v);
  read_pre_tokenizer(root, normalized, v);
  if (root.has("post_processor")) read_post_processor(root["post_processor"], v);
  return v;
}

BPETokenizer load_tokenizer_json(const std::string& path) {
  BPEVocab v = parse_tokenizer_json(read_file(path, "tokenizer"), path);
  try {
    return BPETokenizer(std::move(v));
  } catch (const std::exception& e) {
    NEAT_CHECK(false, path, ": ", e.what());
  }
}

}  // namespace neat
