// Parity with PyTorch (llm.c's test_gpt2 recipe): tests/parity/make_reference.py wrote a small
// ViT, a batch, and for each method the logits, the loss and every trainable tensor's gradient
// after one forward and backward in eval mode. We build the same model and adapter in float32
// and compare each tensor to a tolerance relative to that tensor's own magnitude: logits and
// loss to 1e-5, gradients to 1e-4 (every reference gradient peaks at 1e-2 or more, so a zero or
// dead gradient fails).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "autograd/nn_functional.h"
#include "models/vit.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/parity_reference.h"
#include "tests/peft_case.h"
#include "tests/tensor_check.h"
#include "tests/tiny_vit.h"

using namespace neat;
using neat::test::check_tensor;

namespace {

const std::string kReference = "tests/parity/vit_reference.safetensors";
const std::string kRegenerate = "regenerate it with /usr/bin/python3 tests/parity/make_reference.py";

// Tolerances relative to each tensor's own largest value (tests/tensor_check.h). The floor is
// well below the smallest gradient the script allows (MIN_GRADIENT = 1e-2 in make_reference.py,
// which asserts it): it only matters for the key biases, whose gradient is zero by construction
// (softmax ignores a shift of its row) and whose reference is rounding noise.
const double kValueTolerance = 1e-5;      // logits and loss, relative
const double kGradientTolerance = 1e-4;   // gradients, relative (float32 backward vs float64)
const double kFloor = 1e-3;

}  // namespace

TEST_CASE("parity with PyTorch: ViT logits, loss and gradients for neat, lora, head, full") {
  SafetensorsFile ref = test::open_parity_reference(kReference, "neat-parity", "2", kRegenerate);
  auto meta = [&](const char* key) { return test::parity_metadata(ref, key); };
  const ViTConfig config = test::vit_config_from_json(Json::parse(meta("config")));
  const Json cases = Json::parse(meta("cases"));
  REQUIRE(cases.size() == 8);

  std::map<std::string, Tensor> base;
  for (auto& [name, t] : ref.tensors)
    if (name.rfind("base.", 0) == 0) base[name.substr(5)] = t;
  const Tensor& pixels = ref.get("pixel_values");
  const Tensor& labels = ref.get("labels");

  for (const Json& c : cases.as_array()) {
    const std::string name = c["name"].as_string();
    CAPTURE(name);
    ViTForImageClassification vit(config);
    vit.load_state_dict(base);
    vit.eval();
    attach_peft(vit, neat::test::peft_config_from_case(c));
    const std::string param = name + ".param.", grad = name + ".grad.";
    std::set<std::string> want_trainable;
    for (auto& [key, t] : ref.tensors) {
      if (key.rfind(param, 0) == 0) vit.parameter(key.substr(param.size())).data().copy_from(t);
      if (key.rfind(grad, 0) == 0) want_trainable.insert(key.substr(grad.size()));
    }
    std::set<std::string> trainable;
    for (auto& [n, p] : vit.named_parameters(true)) trainable.insert(n);
    CHECK(trainable == want_trainable);

    Variable logits = vit.forward(Variable(pixels));
    Variable loss = cross_entropy(logits, labels);
    loss.backward();
    // Errors relative to each tensor's scale, for the summary line.
    auto relative = [](const neat::test::TensorComparison& c) { return c.max_error / c.scale; };
    const double logit_error = relative(check_tensor(name + " logits", logits.data(),
                                                     ref.get(name + ".logits"), kValueTolerance, kFloor));
    const double loss_error = relative(check_tensor(name + " loss", loss.data().reshape({1}),
                                                    ref.get(name + ".loss"), kValueTolerance, kFloor));
    double grad_error = 0;
    for (auto& [n, p] : vit.named_parameters(true)) {
      REQUIRE_MESSAGE(p.grad().defined(), n, " got no gradient");
      grad_error = std::max(grad_error, relative(check_tensor(name + " grad " + n, p.grad(), ref.get(grad + n),
                                                              kGradientTolerance, kFloor)));
    }
    MESSAGE(name, ": max relative error logits ", logit_error, ", loss ", loss_error,
            ", gradients ", grad_error);
  }
}
