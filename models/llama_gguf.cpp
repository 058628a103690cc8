// LLaMA from GGUF: llama.* metadata -> LlamaConfig, GGUF tensor names -> HF names, Q / K rows
// back in HF's RoPE order (models/llama_gguf.h).
#include "models/llama_gguf.h"

#include <cstring>

namespace neat {

namespace {

// Moves rows of a [heads * hd, in] tensor (or [heads * hd]) between the two RoPE orders: row
// (h, a, b) of the source, a < outer, b < inner, goes to row (h, b, a) of the result.
Tensor swap_rope_rows(const Tensor& w, int64_t heads, bool to_hf) {
  NEAT_CHECK(w.dim() >= 1 && w.dim() <= 2 && heads > 0 && w.size(0) % (2 * heads) == 0,
             "RoPE rows: ", shape_str(w.shape()), " is not [heads * head_dim, in] with ", heads,
             " heads and an even head_dim");
  const Tensor src = w.to(DType::Float32).to(Device::CPU);
  Tensor out(w.shape(), DType::Float32);
  const int64_t hd = w.size(0) / heads, in = w.dim() == 2 ? w.size(1) : 1;
  // HF from GGML: source (hd / 2, 2) -> (2, hd / 2); GGML from HF: (2, hd / 2) -> (hd / 2, 2).
  const int64_t outer = to_hf ? hd / 2 : 2, inner = to_hf ? 2 : hd / 2;
  const float* s = src.data<float>();
  float* d = out.data<float>();
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t b = 0; b < inner; ++b)
        std::memcpy(d + ((h * hd) + b * outer + a) * in, s + ((h * hd) + a * inner + b) * in,
                    size_t(in) * sizeof(float));
  return out;
}

const char* const kLayerNames[][2] = {
    {"attn_q", "self_attn.q_proj"},   {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},   {"attn_output", "self_attn.o_proj"},
    {"ffn_gate", "mlp.gate_proj"},    {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},    {"attn_norm", "input_layernorm"},
    {"ffn_norm", "post_attention_layernorm"}};

LlamaConfig config_of(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  NEAT_CHECK(arch == "llama", "general.architecture is '", arch, "', not 'llama'");
  const std::string p = "llama.";
  LlamaConfig c;
  c.model_type = "llama";
  c.layers = f.get_int(p + "block_count");
  c.hidden = f.get_int(p + "embedding_length");
  c.intermediate = f.get_int(p + "feed_forward_length");
  c.heads = f.get_int(p + "attention.head_count");
  c.kv_heads = f.get_int(p + "attention.head_count_kv", c.heads);
  NEAT_CHECK(c.heads > 0, p, "attention.head_count is ", c.heads);
  c.head_dim = f.get_int(p + "attention.key_length", c.hidden / c.heads);
  const int64_t value_length = f.get_int(p + "attention.value_length", c.head_dim);
  NEAT_CHECK(value_length == c.head_dim, p, "attention.value_length ", value_length,
             " differs from the key length ", c.head_dim, " (not computed)");
  const int64_t rotary = f.get_int(p + "rope.dimension_count", c.head_dim);
  NEAT_CHECK(rotary == c.head_dim, p, "rope.dimension_count ", rotary,
             " is not the head size ", c.head_dim, " (a partial rotary embedding is not computed)");
  c.rope_theta = f.get_float(p + "rope.freq_base", 10000.0);
  c.rms_norm_eps = f.get_float(p + "attention.layer_norm_rms_epsilon");
  c.max_positions = f.get_int(p + "context_length", c.max_positions);
  const std::string scaling = f.get_string(p + "rope.scaling.type", "none");
  NEAT_CHECK(scaling == "none", p, "rope.scaling.type '", scaling, "' is not computed");
  NEAT_CHECK(!f.has_tensor("rope_freqs.weight"),
             "tensor rope_freqs.weight (per-frequency RoPE factors, LLaMA 3.1) is not computed");
  for (const char* key : {"attention.sliding_window", "expert_count"})
    NEAT_CHECK(!f.has(p + key), p, key, " is not computed by this model");
  if (f.has("tokenizer.ggml.tokens")) {
    c.vocab_size = int64_t(f.at("tokenizer.ggml.tokens").array.size());
  } else {
    c.vocab_size = f.info("token_embd.weight").shape.at(0);
  }
  c.tie_word_embeddings = !f.has_tensor("output.weight");
  c.qkv_bias = f.has_tensor("blk.0.attn_q.bias");
  c.o_bias = f.has_tensor("blk.0.attn_output.bias");
  c.mlp_bias = f.has_tensor("blk.0.ffn_up.bias");
  c.validate();
  return c;
}

}  // namespace

Tensor unpermute_rope_rows(const Tensor& w, int64_t heads) {
  return swap_rope_rows(w, heads, true);
}
Tensor permute_rope_rows(const Tensor& w, int64_t heads) {
  return swap_rope_rows(w, heads, false);
}

LlamaConfig llama_config_from_gguf(const GgufFile& file) {
  try {
    return config_of(file);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (what.find(file.path) != std::string::npos) throw;
    NEAT_CHECK(false, file.path, ": ", what);
  }
  return LlamaConfig();
}

std::string llama_hf_name(const std::string& name) {
  auto ends_with = [&](const std::string& end) {
    return name.size() > end.size() && name.compare(name.size() - end.size(), end.size(), end) == 0;
  };
  const std::string suffix = ends_with(".weight") ? ".weight" : ends_with(".bias") ? ".bias" : "";
  if (suffix.empty()) return "";
  const std::string base = name.substr(0, name.size() - suffix.size());
  if (base == "token_embd") return "model.embed_tokens" + suffix;
  if (base == "output_norm") return "model.norm" + suffix;
  if (base == "output") return "lm_head" + suffix;
  if (base.compare(0, 4, "blk.") != 0) return "";
  const size_t dot = base.find('.', 4);
  if (dot == std::string::npos || dot == 4) return "";
  const std::string layer = base.substr(4, dot - 4);
  if (layer.find_first_not_of("0123456789") != std::string::npos) return "";
  const std::string part = base.substr(dot + 1);
  for (const auto& pair : kLayerNames)
    if (part == pair[0]) return "model.layers." + layer + "." + pair[1] + suffix;
  return "";
}

std::map<std::string, Tensor> llama_tensors_from_gguf(const GgufFile& file, const LlamaConfig& c) {
  std::map<std::string, Tensor> tensors;
  for (const GgufTensorInfo& info : file.tensors) {
    const std::string hf = llama_hf_name(info.name);
    NEAT_CHECK(!hf.empty(), file.path, ": tensor '", info.name, "' ", shape_str(info.shape),
               " is not a tensor of a LLaMA model");
    try {
      Tensor t = file.tensor(info.name, DType::Float32);
      if (hf.find("q_proj") != std::string::npos) t = unpermute_rope_rows(t, c.heads);
      if (hf.find("k_proj") != std::string::npos) t = unpermute_rope_rows(t, c.kv_heads);
      tensors[hf] = t;
    } catch (const std::exception& e) {
      const std::string what = e.what();
      if (what.find(file.path) != std::string::npos) throw;
      NEAT_CHECK(false, file.path, ": tensor '", info.name, "': ", what);
    }
  }
  return tensors;
}

std::shared_ptr<LlamaForCausalLM> load_llama_gguf(const GgufFile& file) {
  LlamaConfig config = llama_config_from_gguf(file);
  config.random_init = false;   // load_llama_weights fills every parameter
  auto model = std::make_shared<LlamaForCausalLM>(config);
  const std::map<std::string, Tensor> tensors = llama_tensors_from_gguf(file, config);
  try {
    load_llama_weights(*model, tensors);
  } catch (const std::exception& e) {
    NEAT_CHECK(false, file.path, ": ", e.what());
  }
  return model;
}

}  // namespace neat
