// Parity with Hugging Face peft: tests/parity/peft_reference.py ran transformers' ViT with
// peft's LoRA, DoRA, VeRA, FourierFT and PiSSA init and wrote the trainable tensors, logits,
// loss and gradients. We attach the same method to the same weights, load the same tensors
// (for PiSSA: compute them with our SVD and compare), and check each tensor against peft's
// with its own scale-free tolerance: max |ours - peft| <= tol * max |peft|. Also: directories
// peft's save_pretrained wrote (tests/parity/peft_adapters/) read by our adapter loader, and
// torch's randperm, which FourierFT's positions come from.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "autograd/nn_functional.h"
#include "models/vit.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tensor/torch_randperm.h"
#include "tests/parity_reference.h"
#include "tests/tensor_check.h"
#include "tests/tiny_vit.h"

using namespace neat;

namespace {

const char* kReference = "tests/parity/peft_reference.safetensors";
const char* kRegenerate = "regenerate it with tests/parity/make_peft_reference.sh";

// max |got - want| <= tol * max |want| (tests/tensor_check.h); a tensor of zeros must be
// matched exactly.
void check_tensor(const std::string& label, const Tensor& got, const Tensor& want, double tol) {
  test::check_tensor(label, got, want, tol, /*floor=*/0);
}

PeftConfig peft_from(const Json& j) {
  PeftConfig p;
  p.method = j["method"].as_string();
  p.targets = j["targets"].as_string();
  if (p.method == "lora" || p.method == "dora" || p.method == "pissa") {
    p.lora.rank = j["rank"].as_int();
    p.lora.alpha = j["alpha"].as_number();
  } else if (p.method == "vera") {
    p.vera.rank = j["rank"].as_int();
    p.vera.d_initial = j["d_initial"].as_number();
    p.vera.projection_seed = uint64_t(j["projection_seed"].as_int());
  } else if (p.method == "fourierft") {
    p.fourier.n_frequency = j["n_frequency"].as_int();
    p.fourier.scaling = j["scaling"].as_number();
    p.fourier.random_loc_seed = uint64_t(j["random_loc_seed"].as_int());
  }
  return p;
}

SafetensorsFile open_reference() {
  return test::open_parity_reference(kReference, "neat-peft-parity", "1", kRegenerate);
}

// PiSSA: each rank component's sign is free (LAPACK's and ours may differ). Flips our A row j
// and B column j together when they point away from peft's; the product B A is unchanged.
void align_svd_signs(Lora& lora, const Tensor& want_a) {
  Tensor a = lora.lora_A->weight.data(), b = lora.lora_B->weight.data();
  const int64_t r = a.size(0), in = a.size(1), out = b.size(0);
  for (int64_t j = 0; j < r; ++j) {
    double dot = 0;
    for (int64_t i = 0; i < in; ++i) dot += a.at({j, i}) * want_a.at({j, i});
    if (dot >= 0) continue;
    for (int64_t i = 0; i < in; ++i) a.set({j, i}, -a.at({j, i}));
    for (int64_t o = 0; o < out; ++o) b.set({o, j}, -b.at({o, j}));
  }
}

// The reference file and what every case shares: the ViT, its base weights, the batch.
struct Reference {
  SafetensorsFile file = open_reference();
  ViTConfig vit_config = test::vit_config_from_json(Json::parse(file.metadata.at("config")));
  Json cases = Json::parse(file.metadata.at("cases"));
  std::map<std::string, Tensor> base = base_weights(file);
  Variable pixels{file.get("pixel_values")};

  static std::map<std::string, Tensor> base_weights(const SafetensorsFile& f) {
    std::map<std::string, Tensor> out;
    for (auto& [name, t] : f.tensors)
      if (name.rfind("base.", 0) == 0) out[name.substr(5)] = t;
    return out;
  }
};

}  // namespace

TEST_CASE("peft parity: logits, loss and gradients of LoRA, DoRA, VeRA, FourierFT and PiSSA") {
  const Reference r;
  const SafetensorsFile& ref = r.file;
  const Json& cases = r.cases;
  const Variable& pixels = r.pixels;
  const Tensor& labels = ref.get("labels");
  REQUIRE(cases.size() == 6);
  for (size_t c = 0; c < cases.size(); ++c) {
    const std::string name = cases[c]["name"].as_string();
    CAPTURE(name);
    const PeftConfig config = peft_from(cases[c]);
    ViTForImageClassification vit(r.vit_config);
    vit.load_state_dict(r.base);
    vit.eval();
    attach_peft(vit, config);
    const std::string param = name + ".param.";
    std::set<std::string> ours, theirs;
    for (auto& [n, p] : vit.named_parameters(true)) ours.insert(n);
    for (auto& [n, t] : ref.tensors)
      if (n.rfind(param, 0) == 0) theirs.insert(n.substr(param.size()));
    CHECK(ours == theirs);   // the same trainable tensors under the same names
    if (config.method == "vera") {   // drawn from projection_prng_key as peft draws them, bit for bit
      for (auto& [n, module] : vit.named_modules())
        if (auto vera = std::dynamic_pointer_cast<Vera>(module)) {
          CHECK(vera->projections()->vera_A.data().to_vector<float>() ==
                ref.get(name + ".vera_A").to_vector<float>());
          CHECK(vera->projections()->vera_B.data().to_vector<float>() ==
                ref.get(name + ".vera_B").to_vector<float>());
        }
    }
    if (config.method == "pissa") {
      // Our SVD-based start against peft's: A, B (up to sign) and the residual weights.
      for (auto& [n, module] : vit.named_modules()) {
        auto lora = std::dynamic_pointer_cast<Lora>(module);
        if (!lora) continue;
        align_svd_signs(*lora, ref.get(param + n + ".lora_A.weight"));
        check_tensor(n + ".lora_A", lora->lora_A->weight.data(), ref.get(param + n + ".lora_A.weight"), 1e-4);
        check_tensor(n + ".lora_B", lora->lora_B->weight.data(), ref.get(param + n + ".lora_B.weight"), 1e-4);
        check_tensor(n + ".weight (residual)", lora->weight.data(),
                     ref.get(name + ".weight." + n + ".weight"), 1e-5);
      }
    } else {
      NoGradGuard no_grad;
      for (auto& [n, p] : vit.named_parameters(true))
        if (theirs.count(n)) p.data().copy_from(ref.get(param + n));
    }
    Variable logits = vit.forward(pixels);
    Variable loss = cross_entropy(logits, labels);
    loss.backward();
    check_tensor(name + ".logits", logits.data(), ref.get(name + ".logits"), 1e-5);
    check_tensor(name + ".loss", loss.data().reshape({1}), ref.get(name + ".loss"), 1e-5);
    for (auto& [n, p] : vit.named_parameters(true)) {
      if (!theirs.count(n)) continue;
      REQUIRE_MESSAGE(p.grad().defined(), n, " got no gradient");
      check_tensor(name + ".grad." + n, p.grad(), ref.get(name + ".grad." + n), 1e-4);
    }
  }
}

TEST_CASE("peft parity: directories peft saved load through --adapter's reader and give peft's logits") {
  const Reference r;
  const SafetensorsFile& ref = r.file;
  const Json& cases = r.cases;
  const Variable& pixels = r.pixels;
  int checked = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    const std::string name = cases[c]["name"].as_string();
    if (cases[c]["method"].as_string() == "pissa") continue;   // needs peft's residual base
    CAPTURE(name);
    const std::string dir = std::string("tests/parity/peft_adapters/") + name;
    ViTForImageClassification vit(r.vit_config);
    vit.load_state_dict(r.base);
    vit.eval();
    PeftReport report = attach_adapter(dir, vit);
    CHECK(report.method == cases[c]["method"].as_string());
    check_tensor(name + ".logits (from peft's directory)", vit.forward(pixels).data(),
                 ref.get(name + ".logits"), 1e-5);
    ++checked;
  }
  CHECK(checked == 5);
}

TEST_CASE("peft parity: torch_randperm equals torch.randperm for every size and seed in the file") {
  SafetensorsFile ref = open_reference();
  int checked = 0;
  for (auto& [name, t] : ref.tensors) {
    if (name.rfind("randperm.", 0) != 0) continue;
    const size_t dot = name.find('.', 9);
    const int64_t n = std::stoll(name.substr(9, dot - 9));
    const uint64_t seed = std::stoull(name.substr(dot + 1));
    CAPTURE(name);
    CHECK(torch_randperm(n, seed) == t.to_vector<int64_t>());
    ++checked;
  }
  CHECK(checked >= 8);
}
