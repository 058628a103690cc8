// Parity with PyTorch (llm.c's test_gpt2 recipe): tests/parity/make_reference.py wrote a small
// ViT, a batch, and for each method the logits, the loss and every trainable tensor's gradient
// after one forward and backward in eval mode. We build the same model and adapter in float32
// and compare: logits and loss to 1e-5, gradients to 1e-4. Tolerances are absolute for tensors
// whose largest value is <= 1 and relative to that largest value above (the sin depth-6
// case has gradients of magnitude ~10: each sin(2 pi x) layer multiplies them by up to 2 pi).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "autograd/nn_functional.h"
#include "models/vit.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/peft_case.h"

using namespace neat;

namespace {

const char* kReference = "tests/parity/vit_reference.safetensors";
const char* kRegenerate = "regenerate it with /usr/bin/python3 tests/parity/make_reference.py";

// Compares got with want elementwise, to tol times max(1, max |want|); on a mismatch prints the
// first values of both and the worst difference. Returns the max difference over that scale.
double check_tensor(const std::string& label, const Tensor& got, const Tensor& want, double tol) {
  if (got.shape() != want.shape()) {
    FAIL_CHECK(label, ": shape ", shape_str(got.shape()), ", reference ", shape_str(want.shape()));
    return INFINITY;
  }
  double scale = 1;
  for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::abs(want.flat(i)));
  double worst = 0;
  int64_t worst_at = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double d = std::abs(got.flat(i) - want.flat(i)) / scale;
    if (!(d <= worst)) {   // also catches NaN
      worst = d;
      worst_at = i;
    }
  }
  if (!(worst <= tol)) {
    std::string first;
    char buf[64];
    for (int64_t i = 0; i < std::min<int64_t>(5, got.numel()); ++i) {
      std::snprintf(buf, sizeof buf, "  %.7g vs %.7g\n", got.flat(i), want.flat(i));
      first += buf;
    }
    FAIL_CHECK(label, " ", shape_str(got.shape()), ": max diff ", worst * scale, " at ",
               worst_at, " > tol ", tol, " x ", scale, "; first values (got vs reference):\n",
               first);
  }
  return worst;
}

ViTConfig config_from(const Json& j) {
  ViTConfig c;
  c.image_size = j["image_size"].as_int();
  c.patch_size = j["patch_size"].as_int();
  c.channels = j["channels"].as_int();
  c.hidden = j["hidden"].as_int();
  c.depth = j["depth"].as_int();
  c.heads = j["heads"].as_int();
  c.mlp_dim = j["mlp_dim"].as_int();
  c.num_classes = j["num_classes"].as_int();
  c.layer_norm_eps = j["layer_norm_eps"].as_number();
  return c;
}

}  // namespace

TEST_CASE("parity with PyTorch: ViT logits, loss and gradients for neat, lora, head, full") {
  REQUIRE_MESSAGE(std::filesystem::exists(kReference), kReference,
                  " is missing (run the tests from the repository root, or ", kRegenerate, ")");
  SafetensorsFile ref = read_safetensors(kReference);
  auto meta = [&](const char* key) {
    auto it = ref.metadata.find(key);
    return it == ref.metadata.end() ? std::string("(none)") : it->second;
  };
  REQUIRE_MESSAGE(meta("format") == "neat-parity", kReference, " is not a parity file; ",
                  kRegenerate);
  REQUIRE_MESSAGE(meta("version") == "1", kReference, " has version ", meta("version"),
                  ", this test reads version 1; ", kRegenerate);
  const ViTConfig config = config_from(Json::parse(meta("config")));
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
    double logit_diff = check_tensor(name + " logits", logits.data(), ref.get(name + ".logits"), 1e-5);
    double loss_diff = check_tensor(name + " loss", loss.data().reshape({1}), ref.get(name + ".loss"), 1e-5);
    double grad_diff = 0;
    for (auto& [n, p] : vit.named_parameters(true)) {
      REQUIRE_MESSAGE(p.grad().defined(), n, " got no gradient");
      grad_diff = std::max(grad_diff, check_tensor(name + " grad " + n, p.grad(), ref.get(grad + n), 1e-4));
    }
    MESSAGE(name, ": max scaled diff logits ", logit_diff, ", loss ", loss_diff, ", gradients ",
            grad_diff);
  }
}
