// Helpers of the train_vit tests: run the program in-process, a private directory per test,
// and the tiny model + synthetic data every run uses (each run takes well under a second).
#pragma once
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "models/bert.h"
#include "tensor/safetensors.h"
#include "train/system.h"
#include "train/train_text_app.h"
#include "train/train_vit_app.h"

namespace neat_train_test {

using namespace neat;

struct Result {
  int code = -1;
  std::string out, err;
};

inline Result train(std::vector<std::string> args) {
  std::ostringstream out, err;
  Result r;
  r.code = train_vit_main(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// A fresh directory for one test's runs, removed when the test ends.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& name)
      : path("/tmp/neat_test_train_" + std::to_string(::getpid()) + "_" + name) {
    std::filesystem::remove_all(path);
    make_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& file) const { return path + "/" + file; }
};

// A 2-layer ViT of width 32 on 16x16 synthetic images (10 classes), one thread, quiet.
inline std::vector<std::string> tiny(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--data", "synthetic", "--model", "custom", "--dim", "32",
                                   "--depth", "2", "--heads", "2", "--image-size", "16",
                                   "--patch", "4", "--batch-size", "32", "--train-limit", "320",
                                   "--threads", "1", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// a's flags, then b's.
inline std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline std::string file_bytes(const std::string& path) { return read_file(path); }

// train_text's inputs in dir: model/ (a BERT of width 8, 1 layer, over the committed WordPiece
// vocabulary) and wordnet/data.noun (60 definitions in two supersenses: animals "a small dog
// that barks ..." and foods "a sweet dish of rice ..."; 48 train / 6 val / 6 test). Each run on
// them takes well under a second.
inline void write_tiny_text_inputs(const std::string& dir) {
  std::filesystem::create_directories(dir + "/model");
  std::filesystem::create_directories(dir + "/wordnet");
  write_file_atomic(dir + "/model/config.json",
                    R"({"model_type": "bert", "vocab_size": 30522, "hidden_size": 8, "num_hidden_layers": 1,
                        "num_attention_heads": 2, "intermediate_size": 12, "max_position_embeddings": 40,
                        "hidden_act": "gelu"})");
  BertConfig config;
  config.hidden = 8;
  config.layers = 1;
  config.heads = 2;
  config.intermediate = 12;
  config.max_positions = 40;
  BertForSequenceClassification tiny(config);
  std::vector<std::pair<std::string, Tensor>> weights;
  for (auto& [name, p] : tiny.named_parameters())
    if (name.rfind("bert.", 0) == 0) weights.emplace_back(name.substr(5), p.data());
  write_safetensors(dir + "/model/model.safetensors", weights);
  std::filesystem::copy_file("tests/parity/tokenizer/bert_uncased_vocab.txt", dir + "/model/vocab.txt",
                             std::filesystem::copy_options::overwrite_existing);
  std::string noun;
  for (int i = 0; i < 60; ++i) {
    char line[160];
    std::snprintf(line, sizeof line, "%08d %s n 01 word%d 0 000 | %s number %d\n", 1000 + i,
                  i % 2 ? "05" : "13", i, i % 2 ? "a small dog that barks" : "a sweet dish of rice", i);
    noun += line;
  }
  write_file_atomic(dir + "/wordnet/data.noun", noun);
}
}  // namespace neat_train_test
