#include "train/lm_model.h"

#include "models/llama_gguf.h"
#include "tensor/files.h"
#include "text/gguf_tokenizer.h"
#include "text/tokenizer_json.h"
#include "train/system.h"

namespace neat {

namespace {

LoadedLlama load_directory(const std::string& dir, bool chat) {
  LoadedLlama m;
  m.model = load_llama(dir);
  const std::string tokenizer_path = dir + "/tokenizer.json";
  BPEVocab vocab = parse_tokenizer_json(read_file(tokenizer_path), tokenizer_path);
  const Json config = Json::parse(read_file(dir + "/config.json"));
  if (config.contains("eos_token_id") && !config["eos_token_id"].is_null()) {
    const Json& eos = config["eos_token_id"];
    vocab.eos = eos.is_array() ? eos[0].as_int() : eos.as_int();
  }
  m.tokenizer = std::make_unique<BPETokenizer>(std::move(vocab));
  if (chat) {
    const std::string path = dir + "/tokenizer_config.json";
    try {
      m.chat = ChatTemplate::recognise(Json::parse(read_file(path))["chat_template"].as_string());
    } catch (const std::exception& e) {
      NEAT_CHECK(false, path, ": ", e.what());
    }
  }
  return m;
}

}  // namespace

LoadedLlama load_llama_model(const std::string& path, bool chat, const std::string& what) {
  NEAT_CHECK(file_exists(path) || is_directory(path), what, " ", path,
             ": no such file or directory");
  if (is_directory(path)) return load_directory(path, chat);
  const GgufFile file = read_gguf(path);
  LoadedLlama m;
  m.model = load_llama_gguf(file);
  m.tokenizer = std::make_unique<BPETokenizer>(gguf_tokenizer(file));
  if (chat) m.chat = gguf_chat_template(file);
  return m;
}

Json llama_config_json(const LlamaConfig& c) {
  Json j = Json::object();
  j.set("architectures", Json::array({Json("LlamaForCausalLM")}));
  j.set("model_type", c.model_type);
  j.set("vocab_size", c.vocab_size);
  j.set("hidden_size", c.hidden);
  j.set("intermediate_size", c.intermediate);
  j.set("num_hidden_layers", c.layers);
  j.set("num_attention_heads", c.heads);
  j.set("num_key_value_heads", c.kv_heads);
  j.set("head_dim", c.head_dim);
  j.set("max_position_embeddings", c.max_positions);
  j.set("rms_norm_eps", c.rms_norm_eps);
  j.set("rope_theta", c.rope_theta);
  if (c.rope_type == "llama3") {
    Json scaling = Json::object();
    scaling.set("rope_type", "llama3");
    scaling.set("factor", c.rope_factor);
    scaling.set("low_freq_factor", c.low_freq_factor);
    scaling.set("high_freq_factor", c.high_freq_factor);
    scaling.set("original_max_position_embeddings", c.original_max_positions);
    j.set("rope_scaling", scaling);
  } else {
    j.set("rope_scaling", Json());
  }
  j.set("tie_word_embeddings", c.tie_word_embeddings);
  if (c.model_type != "qwen2") j.set("attention_bias", c.qkv_bias);
  j.set("mlp_bias", c.mlp_bias);
  j.set("hidden_act", "silu");
  j.set("initializer_range", c.initializer_range);
  j.set("pad_token_id", c.pad_token_id ? Json(*c.pad_token_id) : Json());
  j.set("torch_dtype", "float32");
  return j;
}

}  // namespace neat
