// Parity with Hugging Face transformers for BERT and RoBERTa: tests/parity/make_bert_reference.py
// wrote transformers' BertForSequenceClassification / RobertaForSequenceClassification (tiny
// odd configs, a batch with padding), and for each method (Neat relu depth 2 on qv, Neat sin
// depth 4 on qvmlp, LoRA, head, full) the logits, the loss and every trainable tensor's gradient
// after one forward and backward in eval mode, in float64. We build the same model in float32
// from the file's config.json text and compare each tensor to its own scale: the largest
// difference must be below tol times the tensor's largest magnitude (1e-5 logits and loss,
// 1e-4 gradients: float32 against float64).
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "autograd/nn_functional.h"
#include "models/bert.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/parity_reference.h"
#include "tests/peft_case.h"
#include "tests/tensor_check.h"

using namespace neat;

namespace {

const char* kBertReference = "tests/parity/bert_reference.safetensors";
const char* kBertRegenerate = "regenerate it with .venv/bin/python tests/parity/make_bert_reference.py";

using test::relative_error;

}  // namespace

TEST_CASE("parity with transformers: BERT and RoBERTa logits, loss, gradients per method") {
  SafetensorsFile ref =
      test::open_parity_reference(kBertReference, "neat-bert-parity", "1", kBertRegenerate);
  auto meta = [&](const std::string& key) { return test::parity_metadata(ref, key); };
  const Json cases = Json::parse(meta("cases"));
  REQUIRE(cases.size() == 10);

  for (const Json& c : cases.as_array()) {
    const std::string type = c["type"].as_string(), name = type + "." + c["name"].as_string();
    CAPTURE(name);
    const BertConfig config = bert_config_from_json(Json::parse(meta("config." + type)));
    CHECK(config.model_type == type);
    std::map<std::string, Tensor> base;
    const std::string base_prefix = type + ".base.";
    for (auto& [key, t] : ref.tensors)
      if (key.rfind(base_prefix, 0) == 0) base[key.substr(base_prefix.size())] = t;
    BertForSequenceClassification model(config);
    BertLoadReport loaded = load_bert_weights(model, base);
    CHECK(loaded.classifier_loaded);
    CHECK(loaded.unused.empty());
    model.eval();
    attach_peft(model, neat::test::peft_config_from_case(c));

    const std::string param = name + ".param.", grad = name + ".grad.";
    std::set<std::string> want_trainable, trainable;
    for (auto& [key, t] : ref.tensors) {
      if (key.rfind(param, 0) == 0) model.parameter(key.substr(param.size())).data().copy_from(t);
      if (key.rfind(grad, 0) == 0) want_trainable.insert(key.substr(grad.size()));
    }
    for (auto& [n, p] : model.named_parameters(true)) trainable.insert(n);
    CHECK(trainable == want_trainable);

    Variable logits = model.forward(ref.get(type + ".input_ids"), ref.get(type + ".attention_mask"),
                                    ref.get(type + ".token_type_ids"));
    Variable loss = cross_entropy(logits, ref.get(type + ".labels"));
    loss.backward();
    const double logit_error =
        relative_error(name + " logits", logits.data(), ref.get(name + ".logits"), 1e-5);
    relative_error(name + " loss", loss.data().reshape({1}), ref.get(name + ".loss"), 1e-5);
    double worst = 0;
    for (auto& [n, p] : model.named_parameters(true)) {
      REQUIRE_MESSAGE(p.grad().defined(), n, " got no gradient");
      const std::string weight = test::key_weight_of_key_bias(n);
      if (!weight.empty()) {
        // Rounding noise on both sides (~1e-18 in float64, ~1e-9 here): measured at the scale
        // of the same layer's key weight's gradient.
        double scale = 0, got = 0;
        for (double x : ref.get(grad + weight).to_vector<double>()) scale = std::max(scale, std::abs(x));
        for (double x : p.grad().to_vector<double>()) got = std::max(got, std::abs(x));
        CHECK_MESSAGE(got <= 1e-4 * scale, n, ": max |grad| ", got, " is not ~0 next to ", scale);
        continue;
      }
      worst = std::max(worst, relative_error(name + " grad " + n, p.grad(), ref.get(grad + n), 1e-4));
    }
    MESSAGE(name, ": logits ", logit_error, ", worst gradient ", worst, " (relative)");
  }
}
