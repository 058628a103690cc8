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
    out.tokenizer = std::make_unique<WordPieceTokenizer>(
        WordPieceTokenizer::from_file(path("vocab.txt"), options));
  } else {
    NEAT_CHECK(file_exists(path("vocab.json")) && file_exists(path("merges.txt")),
               "pretrained text model: ", dir, " has neither vocab.txt (WordPiece) nor ",
               "vocab.json + merges.txt (byte-level BPE)");
    out.tokenizer = std::make_unique<ByteLevelBPE>(
        ByteLevelBPE::from_files(path("vocab.json"), path("merges.txt")));
  }
  NEAT_CHECK(out.tokenizer->vocab_size() <= out.config.vocab_size, "pretrained text model: ",
             dir, ": the tokenizer has ", out.tokenizer->vocab_size(),
             " tokens but the model only ", out.config.vocab_size);
  return out;
}

}  // namespace neat
