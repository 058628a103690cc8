// train_lm's tiny inputs for its tests and the run skeleton's table: a random LLaMA of width 32
// (2 layers, 4 heads on 2 key / value heads) over the committed 401-token SmolLM-style BPE
// (tests/parity/decoder_tokenizer/smollm.json), and a BoolQ-format toy task in LLM-Adapters'
// JSON (and in oe-eval's requests, for --format cloze): "the dog" is true, "the rice" false (16
// train items, 8 test). Each run takes well under a second.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "models/llama.h"
#include "tensor/safetensors.h"
#include "train/lm_model.h"
#include "train/system.h"

namespace neat_train_test {

inline neat::LlamaConfig tiny_lm_config() {
  neat::LlamaConfig c;
  c.vocab_size = 401;
  c.hidden = 32;
  c.intermediate = 48;
  c.layers = 2;
  c.heads = 4;
  c.kv_heads = 2;
  c.head_dim = 8;
  c.max_positions = 512;
  c.rope_theta = 10000;
  c.tie_word_embeddings = true;
  c.seed = 7;
  return c;
}

// items boolq items: "Is it a dog? the dog" (true) and "... the rice" (false), alternating.
inline std::string tiny_lm_task_json(int items) {
  std::string json = "[";
  for (int i = 0; i < items; ++i) {
    const bool dog = i % 2 == 0;
    json += std::string(i ? ",\n" : "") + R"({"instruction": "Is it a dog? the )" +
            (dog ? "dog" : "rice") + R"(", "input": "", "output": "the correct answer is )" +
            (dog ? "true" : "false") + R"(", "answer": ")" + (dog ? "true" : "false") + "\"}";
  }
  return json + "]\n";
}

// The same task as oe-eval's BoolQ requests (one line a choice, the query and the yes / no
// choices in each document), which --format cloze reads.
inline std::string tiny_lm_task_oe_eval(int items) {
  std::string lines;
  for (int i = 0; i < items; ++i) {
    const bool dog = i % 2 == 0;
    for (int c = 0; c < 2; ++c)
      lines += R"({"task_name": "boolq", "doc_id": )" + std::to_string(i) + R"(, "idx": )" +
               std::to_string(c) + R"(, "doc": {"query": "Question: is it a dog? the )" +
               (dog ? "dog" : "rice") + R"(\nAnswer:", "choices": ["yes", "no"], "gold": )" +
               (dog ? "0" : "1") + "}}\n";
  }
  return lines;
}

// dir/lm-model/ (config.json, model.safetensors, tokenizer.json), dir/lm/{train,test}.json and
// dir/lm/{train,test}.jsonl (the oe-eval form).
inline void write_tiny_lm_inputs(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir + "/lm-model");
  fs::create_directories(dir + "/lm");
  const neat::LlamaConfig config = tiny_lm_config();
  neat::LlamaForCausalLM model(config);
  std::vector<std::pair<std::string, neat::Tensor>> weights;
  for (auto& [name, p] : model.named_parameters()) weights.emplace_back(name, p.data());
  neat::write_safetensors(dir + "/lm-model/model.safetensors", weights);
  neat::Json json = neat::llama_config_json(config);
  json.set("eos_token_id", 0);   // <|endoftext|>
  neat::write_file_atomic(dir + "/lm-model/config.json", json.dump(2));
  fs::copy_file("tests/parity/decoder_tokenizer/smollm.json", dir + "/lm-model/tokenizer.json",
                fs::copy_options::overwrite_existing);
  neat::write_file_atomic(dir + "/lm/train.json", tiny_lm_task_json(16));
  neat::write_file_atomic(dir + "/lm/test.json", tiny_lm_task_json(8));
  neat::write_file_atomic(dir + "/lm/train.jsonl", tiny_lm_task_oe_eval(16));
  neat::write_file_atomic(dir + "/lm/test.jsonl", tiny_lm_task_oe_eval(8));
}

// A tiny train_lm run's flags (inputs written under dir first).
inline std::vector<std::string> tiny_lm(const std::string& dir) {
  if (!neat::file_exists(dir + "/lm-model/config.json")) write_tiny_lm_inputs(dir);
  return {"--task", "boolq", "--weights", dir + "/lm-model", "--train-data", dir + "/lm/train.json",
          "--test-data", dir + "/lm/test.json", "--epochs", "4", "--batch-size", "8",
          "--max-new-tokens", "4", "--threads", "1", "--quiet"};
}

}  // namespace neat_train_test
