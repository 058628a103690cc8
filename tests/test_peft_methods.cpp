// The paper's baselines as peft methods (dora, pissa, milora, vera, fourierft, adapter,
// bitfit): float64 gradchecks, merge / unmerge, parameter counts against formulas, PiSSA's
// unchanged start, and adapter files that reproduce the outputs.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "autograd/gradcheck.h"
#include "models/vit.h"
#include "autograd/gradcheck.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "nn/peft/dora.h"
#include "nn/peft/pissa.h"
#include "tensor/matmul.h"
#include "tensor/svd.h"
#include "tests/peft_test_util.h"

using namespace neat;

namespace {


ViTConfig tiny_config() { return tiny_peft_vit_config(); }

std::shared_ptr<Linear> float64_linear(int64_t in, int64_t out, uint64_t seed) {
  auto base = std::make_shared<Linear>(in, out, true, seed);
  base->to(DType::Float64);
  return base;
}

// Every trainable tensor gets N(0, 1) values, so zero-initialised parts act.
void perturb_trainable(Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters(true))
    p.data().copy_from(randn(p.shape(), gen, p.dtype()));
}

// The layer's trainable parameters and the input x, for gradcheck.
void check_layer_gradients(Layer& layer, const Variable& x) {
  auto checked = layer.named_parameters(true);
  checked.emplace_back("x", x);
  auto r = gradcheck(checked, [&] { return layer.forward(x); });
  CHECK_MESSAGE(r.ok, r.report);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("neat_test_methods_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

}  // namespace

// ---- gradchecks ------------------------------------------------------------------------------

TEST_CASE("gradcheck dora (the norm n a constant, as peft's detach)") {
  Generator gen(11);
  const int64_t in = 5, out = 4, r = 3;
  std::vector<Tensor> inputs{randn({2, 3, in}, gen, DType::Float64),
                             randn({out, in}, gen, DType::Float64), randn({out}, gen, DType::Float64),
                             randn({r, in}, gen, DType::Float64), randn({out, r}, gen, DType::Float64),
                             randn({out}, gen, DType::Float64)};
  const Tensor norm = dora_weight_norm(inputs[1], inputs[3], inputs[4], 0.5);
  auto f = [&](const std::vector<Variable>& v) {
    return dora_linear(v[0], v[1], v[2], v[3], v[4], v[5], 0.5, norm);
  };
  GradcheckResult result = gradcheck(f, inputs);
  CHECK_MESSAGE(result.ok, result.report);
}

TEST_CASE("gradcheck vera, fourierft, adapter, pissa and milora layers (parameters and input)") {
  Generator gen(12);
  Variable x(randn({2, 3, 6}, gen, DType::Float64), true);
  auto base = float64_linear(6, 5, 1);
  VeraOptions vo;
  vo.rank = 3;
  Vera vera(*base, vo, make_vera_projections(vo, 7, 9, DType::Float64));
  perturb_trainable(vera, 1);
  check_layer_gradients(vera, x);
  FourierOptions fo;
  fo.n_frequency = 8;
  fo.scaling = 10;
  FourierFT fourier(*float64_linear(6, 5, 2), fo);
  check_layer_gradients(fourier, x);
  HoulsbyOptions ho;
  ho.bottleneck = 3;
  HoulsbyAdapter adapter(*float64_linear(6, 5, 3), ho);
  perturb_trainable(adapter, 2);
  check_layer_gradients(adapter, x);
  LoraOptions lo;
  lo.rank = 2;
  for (SvdInit which : {SvdInit::Principal, SvdInit::Minor}) {   // pissa, milora
    Lora lora(*float64_linear(6, 5, 4), lo);
    init_lora_from_svd(lora, which);
    check_layer_gradients(lora, x);
  }
}

TEST_CASE("gradcheck bitfit: the biases of a float64 ViT") {
  ViTConfig c = tiny_config();
  c.depth = 1;
  ViTForImageClassification vit(c);
  vit.to(DType::Float64);
  PeftConfig config;
  config.method = "bitfit";
  config.classifier = "";
  attach_peft(vit, config);
  Generator gen(13);
  Variable pixels(randn({2, 3, 8, 8}, gen, DType::Float64));
  auto r = gradcheck(vit.named_parameters(true), [&] { return vit.forward(pixels); });
  CHECK_MESSAGE(r.ok, r.report);
}

// ---- merge / unmerge -------------------------------------------------------------------------

TEST_CASE("merge and unmerge: dora, vera, fourierft, pissa") {
  Generator gen(14);
  Variable x(randn({2, 4, 8}, gen));
  // float32: merging rounds W0 + Delta W once, unmerging once more (DoRA also scales by m / n
  // and back), so W0 comes back to a few float32 ulps of its magnitude.
  auto check = [&](auto& layer, const Variable& weight) {
    CAPTURE(layer.type_name());
    layer.eval();
    const Tensor adapted = layer.forward(x).data();
    const Tensor original = weight.data().clone();
    layer.merge();
    CHECK(relative_error(layer.forward(x).data(), adapted) < 1e-5);
    CHECK_THROWS_WITH_AS(layer.merge(), doctest::Contains("already merged"), std::runtime_error);
    layer.unmerge();
    CHECK(relative_error(weight.data(), original) < 1e-5);
    CHECK(relative_error(layer.forward(x).data(), adapted) < 1e-5);
  };
  LoraOptions lo;
  lo.rank = 3;
  lo.alpha = 6;
  Dora dora(Linear(8, 12, true, 1), lo);
  perturb_trainable(dora, 3);
  check(dora, dora.weight);
  VeraOptions vo;
  vo.rank = 4;
  Vera vera(Linear(8, 12, true, 2), vo, make_vera_projections(vo, 8, 12, DType::Float32));
  perturb_trainable(vera, 4);
  check(vera, vera.weight);
  FourierOptions fo;
  fo.n_frequency = 30;
  fo.scaling = 50;
  FourierFT fourier(Linear(8, 12, true, 3), fo);
  check(fourier, fourier.weight);
  Lora pissa(Linear(8, 12, true, 4), lo);
  init_lora_from_svd(pissa, SvdInit::Principal);
  perturb_trainable(pissa, 5);
  check(pissa, pissa.weight);
}

// ---- starts ----------------------------------------------------------------------------------

TEST_CASE("pissa and milora: unchanged output at step 0; s B A is the top / bottom SVD part") {
  Generator gen(15);
  Variable pixels(randn({2, 3, 8, 8}, gen));
  ViTForImageClassification plain(tiny_config());
  plain.eval();
  const Tensor want = plain.forward(pixels).data();
  for (const std::string method : {"pissa", "milora"}) {
    CAPTURE(method);
    ViTForImageClassification vit(tiny_config());
    vit.eval();
    const Tensor w0 = vit.parameter("vit.encoder.layer.1.intermediate.dense.weight").data().clone();
    PeftConfig config;
    config.method = method;
    config.targets = "qvmlp";
    config.lora.rank = 3;
    config.lora.alpha = 12;
    attach_peft(vit, config);
    CHECK(relative_error(vit.forward(pixels).data(), want) < 1e-5);
    auto lora = std::dynamic_pointer_cast<Lora>(vit.module("vit.encoder.layer.1.intermediate.dense"));
    REQUIRE(lora != nullptr);
    // s B A has W0's chosen singular values; the residual keeps the others.
    Tensor sba = matmul(lora->lora_B->weight.data(), lora->lora_A->weight.data());
    scale_(sba, lora->scaling());
    Svd full = svd(w0), part = svd(sba), rest = svd(lora->weight.data());
    const int64_t k = full.S.numel();   // 16: the weight is [24, 16]
    for (int64_t j = 0; j < 3; ++j) {
      const double expected = full.S.flat(method == "pissa" ? j : k - 3 + j);
      CHECK(std::abs(part.S.flat(j) - expected) < 1e-5 * full.S.flat(0));
    }
    const double residual_top = method == "pissa" ? full.S.flat(3) : full.S.flat(0);
    CHECK(std::abs(rest.S.flat(0) - residual_top) < 1e-5 * full.S.flat(0));
  }
}

TEST_CASE("init_lora_from_svd refuses a rank above min(out, in)") {
  LoraOptions lo;
  lo.rank = 5;
  Lora lora(Linear(4, 9, true, 1), lo);
  CHECK_THROWS_WITH_AS(init_lora_from_svd(lora, SvdInit::Principal),
                       doctest::Contains("exceeds min(out, in) = 4"), std::runtime_error);
}

TEST_CASE("vera: every layer shares one projection pair sized for the largest layer") {
  ViTForImageClassification vit(tiny_config());
  PeftConfig config;
  config.method = "vera";
  config.targets = "qvmlp";
  config.vera.rank = 4;
  attach_peft(vit, config);
  auto first = std::dynamic_pointer_cast<Vera>(vit.module("vit.encoder.layer.0.attention.attention.query"));
  auto mlp = std::dynamic_pointer_cast<Vera>(vit.module("vit.encoder.layer.1.output.dense"));
  REQUIRE(first != nullptr);
  REQUIRE(mlp != nullptr);
  CHECK(first->projections() == mlp->projections());
  CHECK(first->projections()->vera_A.shape() == Shape({4, 24}));   // max IN: the MLP's 24
  CHECK(first->projections()->vera_B.shape() == Shape({24, 4}));   // max OUT: intermediate's 24
  CHECK_FALSE(first->projections()->vera_A.requires_grad());
}

// ---- parameter counts ------------------------------------------------------------------------

TEST_CASE("trainable parameter counts equal the formulas") {
  const int64_t d = 16, m = 24, layers = 2, classes = 5;
  const int64_t classifier = d * classes + classes;
  // qv: two [D, D] per layer; qvmlp adds intermediate [M, D] and output [D, M].
  struct Shape2 { int64_t in, out; };
  const std::vector<Shape2> qv{{d, d}, {d, d}};
  const std::vector<Shape2> qvmlp{{d, d}, {d, d}, {d, m}, {m, d}};
  for (const std::string targets : {"qv", "qvmlp"}) {
    const auto& shapes = targets == "qv" ? qv : qvmlp;
    auto total = [&](auto per_layer) {
      int64_t n = 0;
      for (const Shape2& s : shapes) n += per_layer(s);
      return layers * n + classifier;
    };
    PeftConfig config;
    config.targets = targets;
    config.lora.rank = 3;
    config.vera.rank = 5;
    config.fourier.n_frequency = 20;
    for (const std::string method : {"lora", "dora", "pissa", "milora", "vera", "fourierft"}) {
      CAPTURE(targets);
      CAPTURE(method);
      config.method = method;
      ViTForImageClassification vit(tiny_config());
      int64_t expected = 0;
      if (method == "dora")
        expected = total([&](Shape2 s) { return Dora::parameter_count(s.in, s.out, config.lora); });
      else if (method == "vera")
        expected = total([&](Shape2 s) { return Vera::parameter_count(s.out, config.vera); });
      else if (method == "fourierft")
        expected = total([&](Shape2) { return FourierFT::parameter_count(config.fourier); });
      else
        expected = total([&](Shape2 s) { return Lora::parameter_count(s.in, s.out, config.lora); });
      CHECK(attach_peft(vit, config).trainable == expected);
    }
  }
  CHECK(Dora::parameter_count(6, 5, LoraOptions{}) == 8 * 11 + 5);
  CHECK(Vera::parameter_count(5, VeraOptions{}) == 256 + 5);
  CHECK(HoulsbyAdapter::parameter_count(16, HoulsbyOptions{}) == 2 * 64 * 16 + 64 + 16);
  // adapter: after the attention output and the MLP output of every layer, [D] -> M -> [D].
  PeftConfig adapter;
  adapter.method = "adapter";
  adapter.adapter.bottleneck = 4;
  ViTForImageClassification vit(tiny_config());
  PeftReport report = attach_peft(vit, adapter);
  CHECK(report.adapted.size() == 4);
  CHECK(report.trainable == layers * 2 * (2 * 4 * d + 4 + d) + classifier);
  // bitfit: per layer q, k, v, attention output, MLP output and two layer norms (D each) and the
  // intermediate (M); the patch projection and the final layer norm (D each); the classifier.
  PeftConfig bitfit;
  bitfit.method = "bitfit";
  ViTForImageClassification bv(tiny_config());
  CHECK(attach_peft(bv, bitfit).trainable == layers * (7 * d + m) + 2 * d + classifier);
}

// ---- adapter files ---------------------------------------------------------------------------

TEST_CASE("adapter files of every new method reproduce the outputs on a fresh base") {
  Generator gen(16);
  Variable pixels(randn({3, 3, 8, 8}, gen));
  for (const std::string method :
       {"dora", "pissa", "milora", "vera", "fourierft", "adapter", "bitfit"}) {
    CAPTURE(method);
    PeftConfig config;
    config.method = method;
    config.targets = "qvmlp";
    config.lora.rank = 2;
    config.vera.rank = 6;
    config.vera.projection_seed = 9;
    config.fourier.n_frequency = 25;
    config.fourier.random_loc_seed = 31;
    config.adapter.bottleneck = 3;
    ViTForImageClassification tuned(tiny_config());
    tuned.eval();
    attach_peft(tuned, config);
    perturb_trainable(tuned, 22);
    const Tensor want = tuned.forward(pixels).data();
    const std::string path = temp_path(method + ".safetensors");
    save_adapter(path, tuned, config);
    ViTForImageClassification fresh(tiny_config());
    fresh.eval();
    attach_adapter(path, fresh);
    CHECK(relative_error(fresh.forward(pixels).data(), want) == 0.0);
    std::remove(path.c_str());
  }
}

TEST_CASE("merge_peft_layers folds every mergeable method and refuses the Houlsby adapter") {
  Generator gen(17);
  Variable pixels(randn({2, 3, 8, 8}, gen));
  for (const std::string method : {"dora", "vera", "fourierft", "pissa", "adapter"}) {
    CAPTURE(method);
    PeftConfig config;
    config.method = method;
    config.lora.rank = 2;
    config.vera.rank = 4;
    config.fourier.n_frequency = 10;
    ViTForImageClassification vit(tiny_config());
    vit.eval();
    attach_peft(vit, config);
    perturb_trainable(vit, 23);
    const Tensor want = vit.forward(pixels).data();
    if (method == "adapter") {
      CHECK_THROWS_WITH_AS(merge_peft_layers(vit), doctest::Contains("no merged form"),
                           std::runtime_error);
      continue;
    }
    merge_peft_layers(vit);
    CHECK(relative_error(vit.forward(pixels).data(), want) < 1e-5);
  }
}
