// Tests for models/llama (the transformers parity is tests/test_llama_parity.cpp): config.json
// parsing and its refusals, RoPE's llama3 frequencies, Hugging Face's parameter names, the KV
// cache (prefill then one token at a time gives the logits of one full forward, left padding
// included), the causal-LM loss against its definition, loading (one file, shards, and each
// error), and LoRA attached by the LLaMA target names.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/nn_functional.h"
#include "autograd/shape_ops.h"
#include "models/llama.h"
#include "nn/peft/attach.h"
#include "tensor/elementwise.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tensor/shape_ops.h"
#include "tests/op_test_util.h"
#include "tests/test_data_util.h"
#include "tests/tiny_llama.h"

using namespace neat;
using neat::test::max_abs_diff;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

LlamaConfig tiny(bool tied = false) { return test::tiny_llama_config(tied); }

Tensor int_tensor(std::vector<int64_t> values, Shape shape) { return from_vector(values, shape); }

const char* kConfigJson = R"({"model_type": "llama", "vocab_size": 49152, "hidden_size": 576,
  "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
  "num_key_value_heads": 3, "rms_norm_eps": 1e-05, "rope_theta": 100000,
  "max_position_embeddings": 8192, "tie_word_embeddings": true, "hidden_act": "silu",
  "pretraining_tp": 1, "attention_bias": false, "mlp_bias": false, "rope_scaling": null})";

// kConfigJson with the fields of `extra` (a JSON object's text) set over it.
Json config_with(const std::string& extra) {
  Json json = Json::parse(kConfigJson);
  const Json fields = Json::parse(extra);
  for (const auto& [key, value] : fields.as_object()) json.set(key, value);
  return json;
}

}  // namespace

TEST_CASE("llama config: HF config.json fields, defaults, refusals naming the field") {
  const LlamaConfig c = llama_config_from_json(Json::parse(kConfigJson));   // SmolLM2-135M
  CHECK(c.hidden == 576);
  CHECK(c.heads == 9);
  CHECK(c.kv_heads == 3);
  CHECK(c.head_dim == 64);
  CHECK(c.layers == 30);
  CHECK(c.rope_theta == 100000);
  CHECK(c.rope_type == "default");
  CHECK(c.tie_word_embeddings);
  CHECK_FALSE(c.qkv_bias);
  CHECK(c.str().find("heads 9 / kv 3") != std::string::npos);

  auto with = [](const std::string& extra) { return config_with("{" + extra + "}"); };
  const LlamaConfig l3 = llama_config_from_json(with(
      R"("rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})"));
  CHECK(l3.rope_type == "llama3");
  CHECK(l3.rope_factor == 8.0);
  const LlamaConfig qwen = llama_config_from_json(with(R"("model_type": "qwen2",
      "use_sliding_window": false, "sliding_window": 4096)"));
  CHECK(qwen.qkv_bias);
  CHECK_FALSE(qwen.o_bias);
  // transformers 5 writes rope_parameters
  const LlamaConfig v5 = llama_config_from_json(with(R"("rope_parameters": {"rope_type":
      "default", "rope_theta": 250000.0})"));
  CHECK(v5.rope_theta == 250000);

  const std::vector<std::pair<std::string, std::string>> refused = {
      {R"("hidden_act": "gelu")", "hidden_act"},
      {R"("rope_scaling": {"rope_type": "yarn", "factor": 4.0})", "yarn"},
      {R"("pretraining_tp": 2)", "pretraining_tp"},
      {R"("attention_dropout": 0.1)", "attention_dropout"},
      {R"("model_type": "mistral", "sliding_window": 4096)", "sliding_window"},
      {R"("model_type": "gemma")", "gemma"},
      {R"("num_key_value_heads": 2)", "num_key_value_heads"},
      {R"("partial_rotary_factor": 0.5)", "partial_rotary_factor"}};
  for (const auto& [extra, field] : refused) {
    CAPTURE(extra);
    CHECK(mentions(thrown_message([&] { llama_config_from_json(with(extra)); }), {field}));
  }
}

TEST_CASE("llama inv_freq: theta^(-2i/hd), and llama3's three bands as HF computes them") {
  LlamaConfig c = tiny();
  c.head_dim = 8;
  c.rope_theta = 50000;
  std::vector<double> f = llama_inv_freq(c);
  REQUIRE(f.size() == 4);
  for (int i = 0; i < 4; ++i) CHECK(f[size_t(i)] == doctest::Approx(std::pow(50000.0, -i / 4.0)));
  c.rope_type = "llama3";
  c.rope_factor = 4;
  c.low_freq_factor = 1;
  c.high_freq_factor = 4;
  c.original_max_positions = 128;
  const std::vector<double> g = llama_inv_freq(c);
  // wavelengths 2 pi / f: 6.3 (< 32: kept), 94 (between 32 and 128: blended), 1405 and 2e4
  // (> 128: / factor); the blend s = (128 / 94 - 1) / 3.
  CHECK(g[0] == f[0]);
  const double s = (128 / (2 * M_PI / f[1]) - 1) / 3;
  CHECK(g[1] == doctest::Approx((1 - s) * f[1] / 4 + s * f[1]).epsilon(1e-14));
  CHECK(g[2] == doctest::Approx(f[2] / 4).epsilon(1e-14));
  CHECK(g[3] == doctest::Approx(f[3] / 4).epsilon(1e-14));
}

TEST_CASE("llama model: HF parameter names and shapes; a tied head has no lm_head") {
  LlamaForCausalLM untied(tiny(false)), tied(tiny(true));
  std::vector<std::string> names;
  for (auto& [n, p] : untied.named_parameters()) names.push_back(n);
  CHECK(names == llama_parameter_names(tiny(false)));
  CHECK(untied.parameter("model.layers.1.self_attn.k_proj.weight").shape() == Shape({4, 6}));
  CHECK(untied.parameter("model.layers.0.self_attn.o_proj.weight").shape() == Shape({6, 12}));
  CHECK(untied.parameter("model.layers.0.mlp.down_proj.weight").shape() == Shape({6, 10}));
  CHECK(untied.parameter("lm_head.weight").shape() == Shape({11, 6}));
  std::vector<std::string> tied_names;
  for (auto& [n, p] : tied.named_parameters()) tied_names.push_back(n);
  CHECK(tied_names == llama_parameter_names(tiny(true)));
  CHECK(tied.lm_head == nullptr);
  // HF's init: N(0, initializer_range) weights, zero biases, unit norms
  CHECK(tied.parameter("model.layers.0.mlp.up_proj.bias").data().to_vector<float>() ==
        std::vector<float>(10, 0.f));
  CHECK(tied.parameter("model.norm.weight").data().to_vector<float>() == std::vector<float>(6, 1.f));
}

TEST_CASE("llama KV cache: prefill then decode one token at a time = one full forward") {
  LlamaForCausalLM model(tiny());
  model.to(DType::Float64);
  // Row 0 left-padded by 2, positions counted from its first real token (as a generator would).
  const Tensor ids = int_tensor({0, 0, 5, 7, 2, 9, 4, 3, 8, 1, 6, 10}, {2, 6});
  const Tensor mask = int_tensor({0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 6});
  const Tensor pos = int_tensor({1, 1, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5}, {2, 6});
  NoGradGuard no_grad;
  const Tensor full = model.forward(ids, mask, pos).data();   // [2, 6, 11]
  LlamaKVCache cache;
  const int64_t prompt = 3;
  std::vector<Tensor> steps = {model.forward(narrow(ids, 1, 0, prompt), narrow(mask, 1, 0, prompt),
                                             narrow(pos, 1, 0, prompt), &cache).data()};
  CHECK(cache.length() == prompt);
  REQUIRE(cache.k.size() == 2);
  CHECK(cache.k[0].shape() == Shape({2, prompt, 4}));
  for (int64_t n = prompt; n < 6; ++n) {
    steps.push_back(model.forward(narrow(ids, 1, n, 1), narrow(mask, 1, 0, n + 1),
                                  narrow(pos, 1, n, 1), &cache).data());
    CHECK(cache.length() == n + 1);
  }
  const Tensor incremental = concat(steps, 1);
  // the last position's logits alone, as a generator takes them: the same numbers
  LlamaKVCache again;
  const Variable h = model.model->forward(ids, mask, pos, &again);
  CHECK(max_abs_diff(model.head(narrow(h, 1, 5, 1)).data(), narrow(full, 1, 5, 1)) == 0);
  // the real rows only (a padding query's row is not defined by the model's output contract)
  CHECK(max_abs_diff(narrow(incremental, 1, 2, 4), narrow(full, 1, 2, 4)) < 1e-12);
  CHECK(mentions(thrown_message([&] {
          model.forward(narrow(ids, 1, 0, 1), narrow(mask, 1, 0, 2), Tensor(), &cache);
        }), {"attention_mask", "cached + new tokens"}));
}

TEST_CASE("llama causal_lm_loss: shift by one, -100 not counted, mean over the counted") {
  const Tensor logits = neat::test::random64({2, 3, 4}, 7);
  const Tensor labels = int_tensor({-100, 2, 3, 1, -100, 0}, {2, 3});
  Variable loss = causal_lm_loss(Variable(logits), labels);
  // counted: (b 0, n 0) -> 2, (b 0, n 1) -> 3, (b 1, n 1) -> 0
  auto nll = [&](int64_t b, int64_t n, int64_t y) {
    double z = 0;
    for (int64_t v = 0; v < 4; ++v) z += std::exp(logits.at({b, n, v}));
    return std::log(z) - logits.at({b, n, y});
  };
  CHECK(loss.item() == doctest::Approx((nll(0, 0, 2) + nll(0, 1, 3) + nll(1, 1, 0)) / 3).epsilon(1e-14));
  CHECK(mentions(thrown_message([&] {
          causal_lm_loss(Variable(logits), int_tensor({1, -100, -100, 2, -100, -100}, {2, 3}));
        }), {"no label"}));
  CHECK(mentions(thrown_message([&] {
          causal_lm_loss(Variable(logits), int_tensor({0, 9, 0, 0, 0, 0}, {2, 3}));
        }), {"label 9", "vocabulary of 4"}));
}

TEST_CASE("llama loading: one file, shards by index, and errors naming the tensor") {
  LlamaForCausalLM source(tiny());
  std::map<std::string, Tensor> state = source.state_dict();
  neat_test::TempDir dir;
  const std::string config = R"({"model_type": "llama", "vocab_size": 11, "hidden_size": 6,
      "intermediate_size": 10, "num_hidden_layers": 2, "num_attention_heads": 3,
      "num_key_value_heads": 1, "head_dim": 4, "rope_theta": 500, "attention_bias": true,
      "mlp_bias": true, "hidden_act": "silu"})";
  neat_test::write_text(dir / "one/config.json", config);
  write_safetensors(dir / "one/model.safetensors", {state.begin(), state.end()});
  auto loaded = load_llama(dir / "one");
  for (auto& [n, t] : state) CHECK(max_abs_diff(loaded->parameter(n).data(), t) == 0);

  // two shards and the index listing them
  std::vector<std::pair<std::string, Tensor>> first, second;
  Json weight_map = Json::object();
  for (auto& [n, t] : state) {
    const bool in_first = n.find("layers.1.") == std::string::npos;
    (in_first ? first : second).push_back({n, t});
    weight_map.set(n, in_first ? "a.safetensors" : "b.safetensors");
  }
  neat_test::write_text(dir / "sharded/config.json", config);
  write_safetensors(dir / "sharded/a.safetensors", first);
  write_safetensors(dir / "sharded/b.safetensors", second);
  Json index = Json::object();
  index.set("weight_map", weight_map);
  neat_test::write_text(dir / "sharded/model.safetensors.index.json", index.dump());
  auto sharded = load_llama(dir / "sharded");
  for (auto& [n, t] : state) CHECK(max_abs_diff(sharded->parameter(n).data(), t) == 0);

  LlamaForCausalLM target(tiny());
  auto missing = state;
  missing.erase("model.layers.1.mlp.gate_proj.bias");
  CHECK(mentions(thrown_message([&] { load_llama_weights(target, missing); }),
                 {"missing", "model.layers.1.mlp.gate_proj.bias"}));
  auto extra = state;
  extra["model.layers.0.self_attn.q_norm.weight"] = zeros({4});
  CHECK(mentions(thrown_message([&] { load_llama_weights(target, extra); }),
                 {"unexpected", "q_norm"}));
  auto misshapen = state;
  misshapen["model.layers.0.self_attn.k_proj.weight"] = zeros({12, 6});
  CHECK(mentions(thrown_message([&] { load_llama_weights(target, misshapen); }),
                 {"k_proj.weight", "[12, 6]", "[4, 6]"}));
  auto with_buffer = state;   // old checkpoints' RoPE buffers are skipped
  with_buffer["model.layers.0.self_attn.rotary_emb.inv_freq"] = zeros({2});
  CHECK(load_llama_weights(target, with_buffer) == int64_t(state.size()));
  CHECK(mentions(thrown_message([&] { load_llama(dir / "nowhere"); }), {"nowhere", "config.json"}));
}

TEST_CASE("llama + LoRA by HF target names: only the adapters train, the loss goes down") {
  LlamaForCausalLM model(tiny(true));
  PeftConfig peft;
  peft.method = "lora";
  peft.targets = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj";
  peft.classifier = "";
  peft.lora.rank = 2;
  PeftReport report = attach_peft(model, peft);
  CHECK(report.adapted.size() == 14);
  for (auto& [n, p] : model.named_parameters(true)) CHECK(n.find("lora_") != std::string::npos);
  const Tensor ids = int_tensor({1, 4, 2, 8, 5, 3, 9, 2}, {2, 4});
  double first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    Variable loss = causal_lm_loss(model.forward(ids), ids);
    for (Variable& p : model.parameters(true)) p.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;
      for (Variable& p : model.parameters(true)) {
        Tensor w = p.data();
        axpy_(w, -0.5, p.grad());
      }
    }
    (step == 0 ? first : last) = loss.item();
  }
  CHECK(last < first);
}
