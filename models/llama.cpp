#include "models/llama.h"

#include <cmath>
#include <sstream>

#include "autograd/cast.h"
#include "autograd/checkpoint.h"
#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/nn_functional.h"
#include "autograd/shape_ops.h"
#include "nn/attention.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "tensor/json.h"

namespace neat {

// ---- config ----------------------------------------------------------------------------------

void LlamaConfig::validate() const {
  NEAT_CHECK(model_type == "llama" || model_type == "qwen2" || model_type == "mistral",
             "LlamaConfig: model_type '", model_type, "' is not llama, qwen2 or mistral");
  auto positive = [](int64_t v, const char* field) {
    NEAT_CHECK(v > 0, "LlamaConfig: ", field, " must be positive, got ", v);
  };
  positive(vocab_size, "vocab_size");
  positive(hidden, "hidden_size");
  positive(intermediate, "intermediate_size");
  positive(layers, "num_hidden_layers");
  positive(heads, "num_attention_heads");
  positive(kv_heads, "num_key_value_heads");
  positive(head_dim, "head_dim");
  positive(max_positions, "max_position_embeddings");
  NEAT_CHECK(!pad_token_id || (*pad_token_id >= 0 && *pad_token_id < vocab_size),
             "LlamaConfig: pad_token_id ", pad_token_id.value_or(0), " is outside the vocabulary of ",
             vocab_size);
  NEAT_CHECK(heads % kv_heads == 0, "LlamaConfig: num_attention_heads ", heads,
             " is not a multiple of num_key_value_heads ", kv_heads);
  NEAT_CHECK(head_dim % 2 == 0, "LlamaConfig: head_dim ", head_dim, " must be even (RoPE turns pairs)");
  NEAT_CHECK(rms_norm_eps >= 0 && rope_theta > 0 && initializer_range > 0,
             "LlamaConfig: need rms_norm_eps >= 0, rope_theta > 0 and initializer_range > 0");
  NEAT_CHECK(rope_type == "default" || rope_type == "llama3", "LlamaConfig: rope type '",
             rope_type, "' is not supported (only default and llama3)");
  if (rope_type == "llama3")
    NEAT_CHECK(rope_factor > 0 && low_freq_factor > 0 && high_freq_factor > low_freq_factor &&
                   original_max_positions > 0,
               "LlamaConfig: llama3 rope_scaling needs factor > 0, 0 < low_freq_factor < "
               "high_freq_factor and original_max_position_embeddings > 0");
}

std::string LlamaConfig::str() const {
  std::ostringstream s;
  s << model_type << ": vocab " << vocab_size << ", hidden " << hidden << ", intermediate "
    << intermediate << ", layers " << layers << ", heads " << heads << " / kv " << kv_heads
    << ", head_dim " << head_dim << ", rope theta " << rope_theta << " " << rope_type;
  if (rope_type == "llama3")
    s << " (factor " << rope_factor << ", low " << low_freq_factor << ", high " << high_freq_factor
      << ", original " << original_max_positions << ")";
  s << ", rms eps " << rms_norm_eps << (tie_word_embeddings ? ", tied head" : ", untied head");
  if (qkv_bias) s << ", qkv bias";
  if (o_bias) s << ", o bias";
  if (mlp_bias) s << ", mlp bias";
  if (pad_token_id) s << ", pad " << *pad_token_id;
  return s.str();
}

namespace {

// rope_scaling (transformers 4) or rope_parameters (transformers 5): the type and its numbers.
void read_rope(const Json& rope, LlamaConfig& c) {
  if (rope.is_null()) return;
  NEAT_CHECK(rope.is_object(), "llama config: rope_scaling is not an object");
  if (rope.contains("rope_theta")) c.rope_theta = rope["rope_theta"].as_number();
  std::string type = "default";
  if (rope.contains("rope_type")) type = rope["rope_type"].as_string();
  else if (rope.contains("type")) type = rope["type"].as_string();
  NEAT_CHECK(type == "default" || type == "llama3", "llama config: rope_scaling type '", type,
             "' is not supported (only default and llama3)");
  NEAT_CHECK(!rope.contains("partial_rotary_factor") ||
                 rope["partial_rotary_factor"].as_number() == 1.0,
             "llama config: partial_rotary_factor ", rope["partial_rotary_factor"].dump(),
             " is not supported (RoPE on the whole head only)");
  c.rope_type = type;
  if (type != "llama3") return;
  c.rope_factor = rope["factor"].as_number();
  c.low_freq_factor = rope["low_freq_factor"].as_number();
  c.high_freq_factor = rope["high_freq_factor"].as_number();
  c.original_max_positions = rope["original_max_position_embeddings"].as_int();
}

// Fields this model does not compute: an error naming the field unless it holds the value that
// changes nothing.
void refuse_unsupported(const Json& json) {
  auto refuse_unless = [&](const char* key, bool harmless) {
    NEAT_CHECK(!json.contains(key) || json[key].is_null() || harmless, "llama config: ", key,
               " = ", json[key].dump(), " is not supported");
  };
  refuse_unless("pretraining_tp", json.contains("pretraining_tp") &&
                                      json["pretraining_tp"].is_number() &&
                                      json["pretraining_tp"].as_number() == 1);
  refuse_unless("attention_dropout", json.contains("attention_dropout") &&
                                         json["attention_dropout"].is_number() &&
                                         json["attention_dropout"].as_number() == 0);
  refuse_unless("partial_rotary_factor", json.contains("partial_rotary_factor") &&
                                             json["partial_rotary_factor"].is_number() &&
                                             json["partial_rotary_factor"].as_number() == 1);
  refuse_unless("use_sliding_window", json.contains("use_sliding_window") &&
                                          json["use_sliding_window"].kind() == Json::Kind::Bool &&
                                          !json["use_sliding_window"].as_bool());
  const bool qwen_window_off = json.contains("use_sliding_window") &&
                               json["use_sliding_window"].kind() == Json::Kind::Bool &&
                               !json["use_sliding_window"].as_bool();
  refuse_unless("sliding_window", qwen_window_off);   // Qwen2 lists one it does not use
}

}  // namespace

LlamaConfig llama_config_from_json(const Json& json) {
  LlamaConfig c;
  auto integer = [&](const char* key, int64_t& field) {
    if (json.contains(key) && !json[key].is_null()) field = json[key].as_int();
  };
  auto number = [&](const char* key, double& field) {
    if (json.contains(key) && json[key].is_number()) field = json[key].as_number();
  };
  auto flag = [&](const char* key, bool& field) {
    if (json.contains(key) && !json[key].is_null()) field = json[key].as_bool();
  };
  if (json.contains("model_type")) c.model_type = json["model_type"].as_string();
  NEAT_CHECK(c.model_type == "llama" || c.model_type == "qwen2" || c.model_type == "mistral",
             "llama config: model_type '", c.model_type, "' is not llama, qwen2 or mistral");
  if (json.contains("hidden_act")) {
    const std::string& act = json["hidden_act"].as_string();
    NEAT_CHECK(act == "silu", "llama config: hidden_act '", act, "' is not supported (only silu)");
  }
  refuse_unsupported(json);
  integer("vocab_size", c.vocab_size);
  integer("hidden_size", c.hidden);
  integer("intermediate_size", c.intermediate);
  integer("num_hidden_layers", c.layers);
  integer("num_attention_heads", c.heads);
  c.kv_heads = c.heads;
  integer("num_key_value_heads", c.kv_heads);
  NEAT_CHECK((c.heads > 0 && c.hidden % c.heads == 0) || json.contains("head_dim"),
             "llama config: hidden_size ", c.hidden, " is not divisible by num_attention_heads ",
             c.heads, " and there is no head_dim");
  c.head_dim = c.heads > 0 ? c.hidden / c.heads : 0;
  integer("head_dim", c.head_dim);
  integer("max_position_embeddings", c.max_positions);
  number("rms_norm_eps", c.rms_norm_eps);
  number("rope_theta", c.rope_theta);
  number("initializer_range", c.initializer_range);
  if (json.contains("rope_scaling")) read_rope(json["rope_scaling"], c);
  if (json.contains("rope_parameters")) read_rope(json["rope_parameters"], c);
  flag("tie_word_embeddings", c.tie_word_embeddings);
  if (json.contains("pad_token_id") && !json["pad_token_id"].is_null())
    c.pad_token_id = json["pad_token_id"].as_int();
  if (c.model_type == "qwen2") {
    c.qkv_bias = true;   // Qwen2Attention: q, k, v biased, o_proj not
  } else {
    bool bias = false;
    flag("attention_bias", bias);
    c.qkv_bias = c.o_bias = bias;
  }
  flag("mlp_bias", c.mlp_bias);
  c.validate();
  return c;
}

std::vector<double> llama_inv_freq(const LlamaConfig& config) {
  const int64_t hd = config.head_dim;
  std::vector<double> inv_freq(size_t(hd / 2));
  for (int64_t i = 0; i < hd / 2; ++i)
    inv_freq[size_t(i)] = 1.0 / std::pow(config.rope_theta, double(2 * i) / double(hd));
  if (config.rope_type != "llama3") return inv_freq;
  // HF's _compute_llama3_parameters: wavelength 2 pi / f; beyond the low-frequency wavelength
  // (old context / low_freq_factor) f / factor; below the high-frequency one f; between, a blend
  // (1 - s) f / factor + s f with s = (old context / wavelength - low) / (high - low).
  const double old_context = double(config.original_max_positions);
  const double low_wavelen = old_context / config.low_freq_factor;
  const double high_wavelen = old_context / config.high_freq_factor;
  for (double& f : inv_freq) {
    const double wavelen = 2 * M_PI / f;
    if (wavelen > low_wavelen) {
      f /= config.rope_factor;
    } else if (!(wavelen < high_wavelen)) {
      const double s = (old_context / wavelen - config.low_freq_factor) /
                       (config.high_freq_factor - config.low_freq_factor);
      f = (1 - s) * f / config.rope_factor + s * f;
    }
  }
  return inv_freq;
}

std::vector<std::string> llama_parameter_names(const LlamaConfig& config) {
  std::vector<std::string> names = {"model.embed_tokens.weight"};
  auto linear = [&](const std::string& name, bool bias) {
    names.push_back(name + ".weight");
    if (bias) names.push_back(name + ".bias");
  };
  for (int64_t i = 0; i < config.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (const char* m : {"q_proj", "k_proj", "v_proj"}) linear(p + "self_attn." + m, config.qkv_bias);
    linear(p + "self_attn.o_proj", config.o_bias);
    for (const char* m : {"gate_proj", "up_proj", "down_proj"}) linear(p + "mlp." + m, config.mlp_bias);
    names.push_back(p + "input_layernorm.weight");
    names.push_back(p + "post_attention_layernorm.weight");
  }
  names.push_back("model.norm.weight");
  if (!config.tie_word_embeddings) names.push_back("lm_head.weight");
  return names;
}

// ---- modules ---------------------------------------------------------------------------------

namespace {

// HF LlamaPreTrainedModel._init_weights: weight N(0, initializer_range), bias 0.
std::shared_ptr<Linear> llama_linear(int64_t in, int64_t out, bool bias, const LlamaConfig& config,
                                     Generator& gen) {
  auto layer = std::make_shared<Linear>(in, out, bias);
  if (!config.random_init) return layer;
  normal_(layer->weight, config.initializer_range, gen);
  if (bias) zeros_(layer->bias);
  return layer;
}

}  // namespace

LlamaAttention::LlamaAttention(const LlamaConfig& c, Generator& gen)
    : heads_(c.heads), kv_heads_(c.kv_heads) {
  const int64_t q_width = c.heads * c.head_dim, kv_width = c.kv_heads * c.head_dim;
  q_proj = register_module<Layer>("q_proj", llama_linear(c.hidden, q_width, c.qkv_bias, c, gen));
  k_proj = register_module<Layer>("k_proj", llama_linear(c.hidden, kv_width, c.qkv_bias, c, gen));
  v_proj = register_module<Layer>("v_proj", llama_linear(c.hidden, kv_width, c.qkv_bias, c, gen));
  o_proj = register_module<Layer>("o_proj", llama_linear(q_width, c.hidden, c.o_bias, c, gen));
}

Variable LlamaAttention::forward(const Variable& h, const Tensor& position_ids,
                                 const Tensor& inv_freq, const Tensor& mask, Tensor* cache_k,
                                 Tensor* cache_v) {
  Variable q = rope(q_proj->forward(h), position_ids, inv_freq, heads_);
  Variable k = rope(k_proj->forward(h), position_ids, inv_freq, kv_heads_);
  Variable v = v_proj->forward(h);
  if (cache_k != nullptr && cache_k->defined()) {   // the cached positions come first
    k = concat({Variable(*cache_k), k}, 1);
    v = concat({Variable(*cache_v), v}, 1);
  }
  if (cache_k != nullptr) {
    *cache_k = k.data();
    *cache_v = v.data();
  }
  return o_proj->forward(
      packed_multi_head_attention(q, k, v, heads_, mask, /*causal=*/true, kv_heads_));
}

void LlamaAttention::on_child_replaced(const std::string& name,
                                       const std::shared_ptr<Module>& child) {
  auto layer = as_layer(child, name);
  if (name == "q_proj") q_proj = layer;
  else if (name == "k_proj") k_proj = layer;
  else if (name == "v_proj") v_proj = layer;
  else if (name == "o_proj") o_proj = layer;
}

LlamaMLP::LlamaMLP(const LlamaConfig& c, Generator& gen) {
  gate_proj = register_module<Layer>("gate_proj", llama_linear(c.hidden, c.intermediate, c.mlp_bias, c, gen));
  up_proj = register_module<Layer>("up_proj", llama_linear(c.hidden, c.intermediate, c.mlp_bias, c, gen));
  down_proj = register_module<Layer>("down_proj", llama_linear(c.intermediate, c.hidden, c.mlp_bias, c, gen));
}

Variable LlamaMLP::forward(const Variable& x) {
  return down_proj->forward(mul(silu(gate_proj->forward(x)), up_proj->forward(x)));
}

void LlamaMLP::on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) {
  auto layer = as_layer(child, name);
  if (name == "gate_proj") gate_proj = layer;
  else if (name == "up_proj") up_proj = layer;
  else if (name == "down_proj") down_proj = layer;
}

LlamaDecoderLayer::LlamaDecoderLayer(const LlamaConfig& c, Generator& gen) {
  self_attn = register_module("self_attn", std::make_shared<LlamaAttention>(c, gen));
  mlp = register_module("mlp", std::make_shared<LlamaMLP>(c, gen));
  input_layernorm = register_module("input_layernorm", std::make_shared<RMSNorm>(c.hidden, c.rms_norm_eps));
  post_attention_layernorm = register_module(
      "post_attention_layernorm", std::make_shared<RMSNorm>(c.hidden, c.rms_norm_eps));
}

Variable LlamaDecoderLayer::forward(const Variable& h, const Tensor& position_ids,
                                    const Tensor& inv_freq, const Tensor& mask, Tensor* cache_k,
                                    Tensor* cache_v) {
  Variable a = add(h, self_attn->forward(input_layernorm->forward(h), position_ids, inv_freq, mask,
                                         cache_k, cache_v));
  return add(a, mlp->forward(post_attention_layernorm->forward(a)));
}

LlamaModel::LlamaModel(const LlamaConfig& c, Generator& gen) : config_(c), inv_freq_(llama_inv_freq(c)) {
  embed_tokens = register_module(
      "embed_tokens", std::make_shared<Embedding>(c.vocab_size, c.hidden, 0, c.pad_token_id));
  if (c.random_init) normal_(embed_tokens->weight, c.initializer_range, gen);
  embed_tokens->zero_padding_row();
  layer_list = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < c.layers; ++i) {
    layers.push_back(std::make_shared<LlamaDecoderLayer>(c, gen));
    layer_list->append(layers.back());
  }
  norm = register_module("norm", std::make_shared<RMSNorm>(c.hidden, c.rms_norm_eps));
}

namespace {

void check_ids(const Tensor& ids, const char* what, const Shape& shape) {
  NEAT_CHECK(ids.dtype() == DType::Int64 && ids.shape() == shape, "LlamaModel: ", what, " ",
             shape_str(ids.shape()), " ", dtype_name(ids.dtype()), " is not int64 ",
             shape_str(shape));
}

}  // namespace

Variable LlamaModel::forward(const Tensor& input_ids, const Tensor& attention_mask,
                             const Tensor& position_ids, LlamaKVCache* cache) {
  NEAT_CHECK(input_ids.dim() == 2 && input_ids.size(1) > 0, "LlamaModel: input_ids ",
             shape_str(input_ids.shape()), " is not [B, N] with N > 0");
  check_ids(input_ids, "input_ids", input_ids.shape());
  const int64_t B = input_ids.size(0), N = input_ids.size(1);
  const int64_t past = cache != nullptr ? cache->length() : 0;
  if (cache != nullptr && past > 0)
    NEAT_CHECK(int64_t(cache->k.size()) == config_.layers && cache->k[0].size(0) == B,
               "LlamaModel: the KV cache holds ", cache->k.size(), " layers of batch ",
               cache->k[0].size(0), ", not ", config_.layers, " of batch ", B);
  Tensor pos = position_ids;
  if (pos.defined()) {
    check_ids(pos, "position_ids", {B, N});
  } else {   // past .. past + N - 1 in every row
    pos = Tensor({B, N}, DType::Int64);
    for (int64_t i = 0; i < B * N; ++i) pos.data<int64_t>()[i] = past + i % N;
  }
  Variable h = embed_tokens->forward(input_ids);
  if (activation_dtype) h = to_dtype(h, *activation_dtype);
  Tensor mask;
  if (attention_mask.defined()) {
    NEAT_CHECK(attention_mask.shape() == Shape({B, past + N}), "LlamaModel: attention_mask ",
               shape_str(attention_mask.shape()), " is not [B, cached + new tokens] = ",
               shape_str({B, past + N}));
    mask = key_padding_mask(attention_mask, h.dtype());
  }
  pos = pos.to(h.device());
  // float32 frequencies for bf16 activations (tensor/rope.h: a bf16 angle drifts with position).
  const Tensor inv_freq = from_vector(inv_freq_, {int64_t(inv_freq_.size())})
                              .to(math_dtype(h.dtype()))
                              .to(h.device());
  if (cache != nullptr && past == 0) {
    cache->k.assign(size_t(config_.layers), Tensor());
    cache->v.assign(size_t(config_.layers), Tensor());
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    if (recompute_ && cache == nullptr && grad_mode_enabled()) {
      const std::shared_ptr<LlamaDecoderLayer> layer = layers[i];
      h = checkpoint([layer, pos, inv_freq, mask](const Variable& x) {
        return layer->forward(x, pos, inv_freq, mask, nullptr, nullptr);
      }, h, layer->parameters(/*trainable_only=*/true), recompute_rng_);
      continue;
    }
    h = layers[i]->forward(h, pos, inv_freq, mask, cache ? &cache->k[i] : nullptr,
                           cache ? &cache->v[i] : nullptr);
  }
  return norm->forward(h);
}

LlamaForCausalLM::LlamaForCausalLM(const LlamaConfig& config) : config_(config) {
  config.validate();
  Generator gen(config.seed);
  model = register_module("model", std::make_shared<LlamaModel>(config, gen));
  if (!config.tie_word_embeddings)
    lm_head = register_module<Layer>("lm_head", llama_linear(config.hidden, config.vocab_size,
                                                             false, config, gen));
}

Variable LlamaForCausalLM::forward(const Tensor& input_ids, const Tensor& attention_mask,
                                   const Tensor& position_ids, LlamaKVCache* cache) {
  return head(model->forward(input_ids, attention_mask, position_ids, cache));
}

Variable LlamaForCausalLM::head(const Variable& h) {
  if (lm_head) return lm_head->forward(h);
  const Variable embedding = in_dtype_of(model->embed_tokens->weight, h);
  return linear(h, embedding, Variable());   // tied: h E^T
}

void LlamaForCausalLM::on_child_replaced(const std::string& name,
                                         const std::shared_ptr<Module>& child) {
  if (name == "lm_head") lm_head = as_layer(child, name);
}

// HF ForCausalLMLoss: shift by one (position n predicts token n + 1), drop the -100 labels, mean.
Variable causal_lm_loss(const Variable& logits, const Tensor& labels) {
  NEAT_CHECK(logits.dim() == 3, "causal_lm_loss: logits ", shape_str(logits.shape()),
             " are not [B, N, V]");
  const int64_t B = logits.size(0), N = logits.size(1), V = logits.size(2);
  NEAT_CHECK(labels.dtype() == DType::Int64 && labels.shape() == Shape({B, N}),
             "causal_lm_loss: labels ", shape_str(labels.shape()), " ", dtype_name(labels.dtype()),
             " are not int64 ", shape_str({B, N}));
  const std::vector<int64_t> y = labels.to(Device::CPU).to_vector<int64_t>();
  std::vector<int64_t> rows, targets;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n + 1 < N; ++n) {
      const int64_t t = y[size_t(b * N + n + 1)];
      if (t == -100) continue;
      NEAT_CHECK(t >= 0 && t < V, "causal_lm_loss: label ", t, " at [", b, ", ", n + 1,
                 "] is outside the vocabulary of ", V, " (and not -100)");
      rows.push_back(b * N + n);
      targets.push_back(t);
    }
  NEAT_CHECK(!rows.empty(), "causal_lm_loss: no label to predict (every shifted label is -100)");
  const int64_t count = int64_t(rows.size());
  const Tensor row_index = from_vector(rows, {count}).to(logits.device());
  Variable picked = index_select(reshape(logits, {B * N, V}), 0, row_index);   // [count, V]
  return cross_entropy(picked, from_vector(targets, {count}).to(logits.device()));
}

}  // namespace neat
