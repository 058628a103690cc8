// LLaMA-family decoders (LLaMA 1-3, Qwen2's biased q/k/v, SmolLM, Mistral without a sliding
// window) for causal language modelling, exactly as Hugging Face's LlamaForCausalLM, down to the
// parameter names, so published weights load as is. Pre-norm, RMSNorm, rotary positions,
// grouped-query attention, SwiGLU (the math and the backward passes: docs/llama.md):
//
//   h0 = embed_tokens[ids]                                                      [B, N, D]
//   for each layer:  a = input_layernorm(h)
//                    q, k, v = rope(q_proj(a)), rope(k_proj(a)), v_proj(a)      H, Hkv heads
//                    h = h + o_proj(causal_attention(q, k, v))                 (self_attn)
//                    h = h + down_proj(silu(gate_proj(m)) * up_proj(m)),  m = post_attention_layernorm(h)
//   logits = lm_head(norm(h))                                                   [B, N, V]
//   (tie_word_embeddings: lm_head is embed_tokens' weight; the model has no lm_head module)
//
//   LlamaForCausalLM model = ...;  (load_llama(dir) for config.json + safetensors)
//   Variable logits = model.forward(input_ids);                     // int64 [B, N] -> [B, N, V]
//   Variable loss = causal_lm_loss(logits, labels);                 // labels -100 = not counted
//   PeftConfig peft;  peft.targets = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj";
//   peft.classifier = "";  attach_peft(model, peft);
//
//   LlamaKVCache cache;                                             // generation
//   logits = model.forward(prompt_ids, mask, Tensor(), &cache);     // prefill: cache.length() = N
//   logits = model.forward(next_ids /*[B, 1]*/, mask_with_the_new_column, Tensor(), &cache);
//
// Module tree and names (HF's):                 D hidden, I intermediate, V vocab, hd head_dim
//   model.embed_tokens.weight [V, D]
//   model.layers.{i}.self_attn.{q_proj [H hd, D], k_proj, v_proj [Hkv hd, D], o_proj [D, H hd]}
//       .weight (+ .bias on q, k, v when attention_bias / Qwen2, on o_proj with attention_bias)
//   model.layers.{i}.mlp.{gate_proj, up_proj [I, D], down_proj [D, I]}.weight (+ .bias: mlp_bias)
//   model.layers.{i}.{input_layernorm, post_attention_layernorm}.weight [D]
//   model.norm.weight [D]      lm_head.weight [V, D] (untied only)
// Every Linear is held as a Layer and can be replaced by its dotted name (adapters).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/embedding.h"
#include "nn/module.h"
#include "nn/module_list.h"
#include "nn/rms_norm.h"

namespace neat {

class Json;

struct LlamaConfig {
  std::string model_type = "llama";   // "llama", "qwen2" or "mistral"
  int64_t vocab_size = 32000;         // V
  int64_t hidden = 4096;              // D
  int64_t intermediate = 11008;       // I
  int64_t layers = 32;
  int64_t heads = 32;                 // H
  int64_t kv_heads = 32;              // Hkv (num_key_value_heads), H % Hkv == 0
  int64_t head_dim = 128;             // hd (default hidden / heads)
  int64_t max_positions = 2048;       // max_position_embeddings
  // pad_token_id: embed_tokens' padding_idx, as HF's nn.Embedding (that row starts at zero and
  // gets no gradient); none when the config has none.
  std::optional<int64_t> pad_token_id;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000;
  // rope_scaling: "default" (none) or "llama3" (LLaMA 3.1's frequency-dependent factor).
  std::string rope_type = "default";
  double rope_factor = 8, low_freq_factor = 1, high_freq_factor = 4;
  int64_t original_max_positions = 8192;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;              // attention_bias (LLaMA) or always (Qwen2)
  bool o_bias = false;                // attention_bias (LLaMA); never in Qwen2
  bool mlp_bias = false;
  double initializer_range = 0.02;
  uint64_t seed = 0;                  // init
  // false: the parameters start at zero instead of HF's random init, for a loader that then
  // fills every one of them (load_llama, load_llama_gguf): the init of SmolLM2's 135M values
  // took 5-12 s of a 2-core machine, before weights that replace them all.
  bool random_init = true;

  // Errors naming the field: sizes positive, heads divisible by kv_heads, even head_dim, ...
  void validate() const;
  std::string str() const;   // "llama: vocab 32000, hidden 4096, layers 32, heads 32 / kv 32, ..."
};

// From a Hugging Face config.json: the fields above under their HF names (hidden_size,
// intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads (default
// heads), head_dim, rms_norm_eps, rope_theta and rope_scaling (transformers 4) or
// rope_parameters (transformers 5), max_position_embeddings, tie_word_embeddings,
// attention_bias, mlp_bias, initializer_range, pad_token_id). hidden_act must be "silu"; a field that would
// change the computation in a way this model does not do (another rope type, pretraining_tp > 1,
// attention dropout, a partial rotary factor, a sliding window, another model_type) is an error
// naming it. Missing fields keep LlamaConfig's defaults (head_dim: hidden / heads).
LlamaConfig llama_config_from_json(const Json& json);

// RoPE's inverse frequencies [head_dim / 2] in double: theta^(-2i / hd), then for "llama3"
// HF's _compute_llama3_parameters (long wavelengths / factor, short ones kept, a smooth blend
// between low_freq and high_freq wavelengths).
std::vector<double> llama_inv_freq(const LlamaConfig& config);

// The Hugging Face parameter names of a LlamaForCausalLM with this config, in registration order.
std::vector<std::string> llama_parameter_names(const LlamaConfig& config);

// Keys and values of the positions seen so far, per layer: k[l], v[l] [B, T, Hkv*hd] (after RoPE,
// as attention reads them). Filled by LlamaForCausalLM::forward, which appends the new tokens'
// keys and values to each layer (not recorded by autograd); empty until the first forward.
struct LlamaKVCache {
  std::vector<Tensor> k, v;
  int64_t length() const { return k.empty() ? 0 : k[0].size(1); }   // T
  void clear() { k.clear(); v.clear(); }
};

// ---- the module tree, one class per Hugging Face module ------------------------------------

// HF LlamaAttention: q, k, v projections, RoPE on q and k, causal grouped-query attention, o_proj.
class LlamaAttention : public Module {
 public:
  LlamaAttention(const LlamaConfig& config, Generator& gen);
  // h [B, N, D] -> [B, N, D]. position_ids int64 [B, N]; inv_freq [hd/2] (h's dtype); mask the
  // additive key-padding mask [B, 1, 1, T + N] or undefined; cache_k / cache_v this layer's cache
  // slots (null: no cache), read then replaced by the keys and values with the new tokens.
  Variable forward(const Variable& h, const Tensor& position_ids, const Tensor& inv_freq,
                   const Tensor& mask, Tensor* cache_k, Tensor* cache_v);
  std::string type_name() const override { return "LlamaAttention"; }
  std::shared_ptr<Layer> q_proj, k_proj, v_proj, o_proj;

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;

 private:
  int64_t heads_, kv_heads_;
};

// HF LlamaMLP: down_proj(silu(gate_proj(x)) * up_proj(x)), D -> I -> D.
class LlamaMLP : public Layer {
 public:
  LlamaMLP(const LlamaConfig& config, Generator& gen);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "LlamaMLP"; }
  std::shared_ptr<Layer> gate_proj, up_proj, down_proj;

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;
};

// HF LlamaDecoderLayer: pre-norm attention and MLP, each with a residual.
class LlamaDecoderLayer : public Module {
 public:
  LlamaDecoderLayer(const LlamaConfig& config, Generator& gen);
  Variable forward(const Variable& h, const Tensor& position_ids, const Tensor& inv_freq,
                   const Tensor& mask, Tensor* cache_k, Tensor* cache_v);
  std::string type_name() const override { return "LlamaDecoderLayer"; }
  std::shared_ptr<LlamaAttention> self_attn;
  std::shared_ptr<LlamaMLP> mlp;
  std::shared_ptr<RMSNorm> input_layernorm, post_attention_layernorm;
};

// HF LlamaModel: embed_tokens, layers.{i}, norm -> the last hidden state [B, N, D].
class LlamaModel : public Module {
 public:
  LlamaModel(const LlamaConfig& config, Generator& gen);
  Variable forward(const Tensor& input_ids, const Tensor& attention_mask,
                   const Tensor& position_ids, LlamaKVCache* cache);
  std::string type_name() const override { return "LlamaModel"; }
  // Activation recomputation (train_lm --recompute): while gradients are recorded (no KV
  // cache), each decoder layer is one autograd/checkpoint.h node that keeps only its input and
  // runs the layer again in the backward pass; rng: the generator the layers' dropouts (LoRA's)
  // draw from, or null. The gradients are the same; the memory of the activations drops from
  // all layers' to one layer's.
  void set_recompute(bool on, Generator* rng = nullptr) {
    recompute_ = on;
    recompute_rng_ = rng;
  }
  // The dtype the token embeddings are cast to, so every activation after them has it
  // (bfloat16 under --precision bf16, train/precision.h, even when embed_tokens is a float32
  // master that trains). Unset (the default): embed_tokens' own dtype.
  std::optional<DType> activation_dtype;
  std::shared_ptr<Embedding> embed_tokens;
  std::shared_ptr<ModuleList> layer_list;   // "layers"
  std::vector<std::shared_ptr<LlamaDecoderLayer>> layers;
  std::shared_ptr<RMSNorm> norm;

 private:
  LlamaConfig config_;
  std::vector<double> inv_freq_;
  bool recompute_ = false;
  Generator* recompute_rng_ = nullptr;
};

class LlamaForCausalLM : public Module {
 public:
  // Initialised like HF (every Linear and the embedding N(0, initializer_range), biases 0,
  // RMSNorm weights 1) from Generator(config.seed).
  explicit LlamaForCausalLM(const LlamaConfig& config);
  // input_ids int64 [B, N]; attention_mask [B, T + N] (1 token, 0 padding; T = the cache's
  // length) or undefined (no padding); position_ids int64 [B, N] or undefined (T .. T + N - 1 in
  // every row, as HF; a left-padded batch passes its own, e.g. cumsum(mask) - 1); cache null or
  // the KV cache to read and extend -> logits [B, N, V].
  Variable forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                   const Tensor& position_ids = Tensor(), LlamaKVCache* cache = nullptr);
  // The logits of final hidden states h [.., D] -> [.., V]: lm_head, or h E^T when tied. forward
  // is head(model->forward(...)); a generator that needs only the last position's logits runs
  // model->forward and heads that row alone.
  Variable head(const Variable& h);
  std::string type_name() const override { return "LlamaForCausalLM"; }

  const LlamaConfig& config() const { return config_; }
  // The dtype of every activation (LlamaModel::activation_dtype).
  void set_activation_dtype(DType dtype) { model->activation_dtype = dtype; }
  std::shared_ptr<LlamaModel> model;
  std::shared_ptr<Layer> lm_head;   // null when tie_word_embeddings

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;

 private:
  LlamaConfig config_;
};

// The causal-LM loss as HF's ForCausalLMLoss: position n predicts labels[b, n + 1]; labels of
// -100 are not counted; the mean over the counted tokens. logits [B, N, V], labels int64 [B, N]
// (typically input_ids with padding and prompt tokens set to -100). Error when none is counted.
Variable causal_lm_loss(const Variable& logits, const Tensor& labels);

// ---- pretrained weights ----------------------------------------------------------------------

// Copies tensors into the model by their HF names (converted to the model's dtype). Errors name
// the missing tensor, an unexpected one (rotary_emb.inv_freq buffers of old checkpoints and a
// tied model's lm_head.weight excepted), or a tensor whose shape differs (both shapes). Returns
// the number of tensors copied.
int64_t load_llama_weights(LlamaForCausalLM& model, const std::map<std::string, Tensor>& tensors);
// A Hugging Face directory: config.json and model.safetensors, or the shards that
// model.safetensors.index.json's weight_map lists. Errors name the file.
std::shared_ptr<LlamaForCausalLM> load_llama(const std::string& dir);

}  // namespace neat
