// Parity with transformers where our text models once differed from it
// (tests/parity/make_text_reference.py wrote the file, float64 computed, float32 stored):
//   padding     a batch whose padding tokens are attended: the word row pad_token_id (and
//               RoBERTa's position row pad_token_id) get exactly zero gradient, as
//               nn.Embedding(padding_idx) gives, and every other gradient matches;
//   regression  num_labels 1: transformers' MSE on logits.squeeze(-1), its gradients.
// The models are the tiny BERT and RoBERTa of bert_reference.safetensors (config and base
// weights from there), fully trainable, run here in float64.
#include <doctest/doctest.h>

#include <cmath>

#include "models/bert.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tensor/shape_ops.h"
#include "tests/parity_reference.h"
#include "tests/tensor_check.h"

using namespace neat;

namespace {

const char* kTextReference = "tests/parity/text_reference.safetensors";
const char* kBaseReference = "tests/parity/bert_reference.safetensors";
const char* kRegenerate = "regenerate it with .venv/bin/python tests/parity/make_text_reference.py";

// The base model of bert_reference.safetensors in float64, with num_labels outputs (1: the
// classifier's first row, as the script slices it).
std::unique_ptr<BertForSequenceClassification> base_model(const SafetensorsFile& base,
                                                          const std::string& type,
                                                          int64_t num_labels) {
  BertConfig config =
      bert_config_from_json(Json::parse(test::parity_metadata(base, "config." + type)));
  config.num_labels = num_labels;
  config.problem_type = "";
  std::map<std::string, Tensor> weights;
  const std::string prefix = type + ".base.";
  for (auto& [key, t] : base.tensors)
    if (key.rfind(prefix, 0) == 0) {
      const std::string name = key.substr(prefix.size());
      const bool head = name.rfind("classifier.", 0) == 0 && name.find(".dense.") == std::string::npos;
      weights[name] = head && num_labels == 1 ? narrow(t, 0, 0, 1) : t;
    }
  auto model = std::make_unique<BertForSequenceClassification>(config);
  CHECK(load_bert_weights(*model, weights).classifier_loaded);
  model->to(DType::Float64);
  model->eval();
  return model;
}

// max |got - want| <= tol max |want|, per tensor (tests/tensor_check.h).
void check_close(const std::string& label, const Tensor& got, const Tensor& want, double tol) {
  test::check_tensor(label, got, want, tol, /*floor=*/0);
}

}  // namespace

TEST_CASE("parity with transformers: padding rows get no gradient, num_labels 1 is MSE") {
  SafetensorsFile ref =
      test::open_parity_reference(kTextReference, "neat-text-parity", "1", kRegenerate);
  SafetensorsFile base = read_safetensors(kBaseReference);
  for (const char* type : {"bert", "roberta"}) {
    for (const char* kind : {"padding", "regression"}) {
      const std::string name = std::string(type) + "." + kind + ".";
      CAPTURE(name);
      const bool regression = std::string(kind) == "regression";
      auto model = base_model(base, type, regression ? 1 : 3);
      CHECK(model->config().regression() == regression);
      Variable logits = model->forward(ref.get(name + "input_ids"), ref.get(name + "attention_mask"),
                                       ref.get(name + "token_type_ids"));
      const Tensor targets = ref.get(name + (regression ? "scores" : "labels"));
      Variable loss = sequence_classification_loss(model->config(), logits, targets);
      loss.backward();
      check_close(name + "logits", logits.data(), ref.get(name + "logits"), 1e-6);
      check_close(name + "loss", loss.data().reshape({1}), ref.get(name + "loss"), 1e-6);
      for (auto& [n, p] : model->named_parameters(true)) {
        REQUIRE_MESSAGE(p.grad().defined(), n, " got no gradient");
        const Tensor want = ref.get(name + "grad." + n);
        if (test::key_weight_of_key_bias(n).empty())  // the key bias: 0 by construction
          check_close(name + n, p.grad(), want, 1e-6);
      }
      if (regression) continue;
      // The padding rows: attended, yet exactly zero, where the reference is zero too.
      const int64_t pad = model->config().pad_token_id;
      std::vector<std::string> tables = {std::string(type) + ".embeddings.word_embeddings.weight"};
      if (model->config().is_roberta())
        tables.push_back(std::string(type) + ".embeddings.position_embeddings.weight");
      for (const std::string& table : tables) {
        CAPTURE(table);
        const Tensor g = model->parameter(table).grad();
        for (int64_t d = 0; d < g.size(1); ++d) {
          CHECK(g.at({pad, d}) == 0.0);
          CHECK(ref.get(name + "grad." + table).at({pad, d}) == 0.0);
        }
      }
    }
  }
}
