// Parity with Hugging Face transformers for LLaMA: tests/parity/make_llama_reference.py wrote
// transformers' LlamaForCausalLM (grouped-query attention, head_dim != hidden / heads, a llama3
// rope_scaling, rope_theta 50000; an untied head without biases and a tied head with q/k/v/o and
// MLP biases), a left-padded batch, and for each case (full fine-tuning, peft's LoRA and Neat on
// q, k, v, o, gate, up, down) the logits, HF's causal-LM loss and every trainable tensor's
// gradient after one forward and backward, all in float64. We build the same model in float64
// from the file's config.json text, load the base weights by their HF names, attach the same
// adapters, and compare each tensor to its own scale: the largest difference must be below 1e-11
// of the tensor's largest magnitude (float64 on both sides; only the order of sums differs).
#include <doctest/doctest.h>

#include <set>

#include "models/llama.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/parity_reference.h"
#include "tests/peft_case.h"
#include "tests/tensor_check.h"

using namespace neat;

namespace {

const char* kLlamaReference = "tests/parity/llama_reference.safetensors";
const char* kLlamaRegenerate =
    "regenerate it with .venv/bin/python tests/parity/make_llama_reference.py";
constexpr double kTol = 1e-11;

// max |got - want| / max |want| (tests/tensor_check.h), failing the test case with the tensor's
// label when it exceeds kTol.
double relative_error(const std::string& label, const Tensor& got, const Tensor& want) {
  return test::relative_error(label, got, want, kTol);
}

}  // namespace

TEST_CASE("parity with transformers: LLaMA logits, loss, gradients (full, LoRA, Neat; tied head)") {
  SafetensorsFile ref =
      test::open_parity_reference(kLlamaReference, "neat-llama-parity", "1", kLlamaRegenerate);
  auto meta = [&](const std::string& key) { return test::parity_metadata(ref, key); };
  const Json cases = Json::parse(meta("cases"));
  REQUIRE(cases.size() == 5);

  for (const Json& c : cases.as_array()) {
    const std::string kind = c["config"].as_string(), name = kind + "." + c["name"].as_string();
    CAPTURE(name);
    const LlamaConfig config = llama_config_from_json(Json::parse(meta("config." + kind)));
    CHECK(config.kv_heads * 2 == config.heads);
    CHECK(config.rope_type == "llama3");
    CHECK(config.pad_token_id == std::optional<int64_t>(0));   // the padded ids' row: no gradient
    CHECK(config.tie_word_embeddings == (kind == "tied"));
    std::map<std::string, Tensor> base;
    const std::string base_prefix = kind + ".base.";
    for (auto& [key, t] : ref.tensors)
      if (key.rfind(base_prefix, 0) == 0) base[key.substr(base_prefix.size())] = t;
    LlamaForCausalLM model(config);
    model.to(DType::Float64);
    CHECK(load_llama_weights(model, base) == int64_t(llama_parameter_names(config).size()));
    PeftConfig peft = test::peft_config_from_case(c);
    peft.classifier = "";   // a language model has no classifier; full trains everything
    attach_peft(model, peft);

    const std::string param = name + ".param.", grad = name + ".grad.";
    std::set<std::string> want_trainable, trainable;
    for (auto& [key, t] : ref.tensors) {
      if (key.rfind(param, 0) == 0) model.parameter(key.substr(param.size())).data().copy_from(t);
      if (key.rfind(grad, 0) == 0) want_trainable.insert(key.substr(grad.size()));
    }
    for (auto& [n, p] : model.named_parameters(true)) trainable.insert(n);
    CHECK(trainable == want_trainable);

    const Tensor mask = ref.get(kind + ".attention_mask");
    const Tensor positions = ref.contains(kind + ".position_ids") ? ref.get(kind + ".position_ids")
                                                                  : Tensor();
    Variable logits = model.forward(ref.get(kind + ".input_ids"), mask, positions);
    Variable loss = causal_lm_loss(logits, ref.get(kind + ".labels"));
    loss.backward();
    const double logit_error =
        relative_error(name + " logits", test::real_rows(logits.data(), mask), ref.get(name + ".logits"));
    relative_error(name + " loss", loss.data().reshape({1}), ref.get(name + ".loss"));
    double worst = 0;
    for (auto& [n, p] : model.named_parameters(true)) {
      REQUIRE_MESSAGE(p.grad().defined(), n, " got no gradient");
      worst = std::max(worst, relative_error(name + " grad " + n, p.grad(), ref.get(grad + n)));
    }
    MESSAGE(name, ": logits ", logit_error, ", worst gradient ", worst, " (relative)");
  }
}
