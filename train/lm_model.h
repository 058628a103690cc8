// A LLaMA-family model and its tokenizer from a GGUF file or a Hugging Face directory (what
// ./generate --model and train_lm --weights take), and the Hugging Face config.json of a model,
// for a merged model that transformers opens:
//
//   LoadedLlama m = load_llama_model("data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", false);
//   m.tokenizer->encode("Hello");  m.model->forward(ids);
//   write_file_atomic(dir + "/config.json", llama_config_json(m.model->config()).dump(2));
#pragma once
#include <memory>
#include <string>

#include "models/llama.h"
#include "tensor/json.h"
#include "text/bpe_tokenizer.h"
#include "text/chat_template.h"

namespace neat {

struct LoadedLlama {
  std::shared_ptr<LlamaForCausalLM> model;
  std::unique_ptr<BPETokenizer> tokenizer;
  ChatTemplate chat;   // chat: the model's chat template
};

// A GGUF file (weights, tokenizer and chat template from it, models/llama_gguf.h) or a Hugging
// Face directory: the model (load_llama), tokenizer.json with config.json's eos_token_id (a
// number or the first of a list), and with chat tokenizer_config.json's chat_template. what:
// the flag, for messages ("--model"). Errors name the file.
LoadedLlama load_llama_model(const std::string& path, bool chat, const std::string& what);

// config.json of LlamaForCausalLM with this config, as transformers writes it (the fields
// llama_config_from_json reads back to the same config).
Json llama_config_json(const LlamaConfig& config);

}  // namespace neat
