#include "train/text_model.h"

#include <cstdlib>

#include "tensor/json.h"
#include "text/bpe.h"
#include "text/wordpiece.h"
#include "train/system.h"

namespace neat {

std::string default_minilm_dir() {
  const char* env = std::getenv("NEAT_MINILM_DIR");
  return env && *env ? env : "data/all-MiniLM-L6-v2";
}

std::unique_ptr<Tokenizer> load_text_tokenizer(const std::string& dir) {
  auto path = [&](const char* name) { return dir + "/" + name; };
  if (file_exists(path("vocab.txt"))) {
    WordPieceOptions options;
    if (file_exists(path("tokenizer_config.json"))) {
      const Json t = Json::parse(read_file(path("tokenizer_config.json")));
      if (t.contains("do_lower_case")) options.lowercase = t["do_lower_case"].as_bool();
      if (t.contains("strip_accents") && !t["strip_accents"].is_null())
        options.strip_accents = t["strip_accents"].as_bool() ? 1 : 0;
      if (t.contains("tokenize_chinese_chars"))
        options.handle_chinese_chars = t["tokenize_chinese_chars"].as_bool();
    }
    return std::make_unique<WordPieceTokenizer>(
        WordPieceTokenizer::from_file(path("vocab.txt"), options));
  } else {
    NEAT_CHECK(file_exists(path("vocab.json")) && file_exists(path("merges.txt")),
               "pretrained text model: ", dir, " has neither vocab.txt (WordPiece) nor ",
               "vocab.json + merges.txt (byte-level BPE)");
    return std::make_unique<ByteLevelBPE>(
        ByteLevelBPE::from_files(path("vocab.json"), path("merges.txt")));
  }
}

std::vector<std::string> text_vocabulary(const std::string& dir) {
  std::vector<std::string> tokens;
  if (file_exists(dir + "/vocab.txt")) {
    const std::string text = read_file(dir + "/vocab.txt");
    size_t start = 0;
    for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
      tokens.push_back(text.substr(start, end - start));
    if (start < text.size()) tokens.push_back(text.substr(start));
    return tokens;
  }
  const Json vocab = Json::parse(read_file(dir + "/vocab.json"));
  for (const auto& [token, id] : vocab.as_object()) {
    const int64_t i = id.as_int();
    if (i >= 0 && i < (int64_t(1) << 24)) {
      if (int64_t(tokens.size()) <= i) tokens.resize(size_t(i) + 1);
      tokens[size_t(i)] = token;
    }
  }
  return tokens;
}

PretrainedText load_pretrained_text(const std::string& dir, int64_t num_labels, uint64_t seed) {
  auto path = [&](const char* name) { return dir + "/" + name; };
  NEAT_CHECK(file_exists(path("config.json")) && file_exists(path("model.safetensors")),
             "pretrained text model: ", dir, " has no config.json and model.safetensors (for ",
             "all-MiniLM-L6-v2 run `make deps`, which puts them in data/all-MiniLM-L6-v2)");
  PretrainedText out;
  try {
    out.config = bert_config_from_json(Json::parse(read_file(path("config.json"))));
  } catch (const std::exception& e) {
    NEAT_CHECK(false, path("config.json"), ": ", e.what());
  }
  out.config.num_labels = num_labels;
  out.config.seed = seed;
  out.model = std::make_unique<BertForSequenceClassification>(out.config);
  out.report = load_bert_weights(*out.model, path("model.safetensors"));

  out.tokenizer = load_text_tokenizer(dir);
  NEAT_CHECK(out.tokenizer->vocab_size() <= out.config.vocab_size, "pretrained text model: ",
             dir, ": the tokenizer has ", out.tokenizer->vocab_size(),
             " tokens but the model only ", out.config.vocab_size);
  return out;
}

}  // namespace neat
