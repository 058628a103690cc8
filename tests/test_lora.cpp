// LoRA: finite differences (with and without dropout), names, frozen W0, merge / unmerge.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "nn/peft/lora.h"
#include "tensor/cpu/gemm.h"
#include "tests/op_test_util.h"

using namespace neat;
using neat::test::max_abs_diff;

TEST_CASE("gradcheck lora") {
  Generator gen(3);
  const int64_t in = 5, out = 4, r = 3;
  std::vector<Tensor> inputs{randn({2, 3, in}, gen, DType::Float64),
                             randn({out, in}, gen, DType::Float64),
                             randn({out}, gen, DType::Float64), randn({r, in}, gen, DType::Float64),
                             randn({out, r}, gen, DType::Float64)};
  for (double p : {0.0, 0.4}) {
    CAPTURE(p);
    // The same dropout mask on every call: a fresh generator with a fixed seed.
    auto f = [&](const std::vector<Variable>& v) {
      Generator masks(17);
      return lora_linear(v[0], v[1], v[2], v[3], v[4], 2.0 / 3.0, p, /*training=*/true, masks);
    };
    GradcheckResult result = gradcheck(f, inputs);
    CHECK_MESSAGE(result.ok, result.report);
  }
}

TEST_CASE("lora layer: names, shared frozen W0, zero-initialised B, counts") {
  Linear base(6, 4, true, 1);
  LoraOptions options;
  options.rank = 2;
  options.alpha = 4;
  Lora layer(base, options);
  std::vector<std::string> names;
  for (auto& [name, p] : layer.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"weight", "bias", "lora_A.weight", "lora_B.weight"});
  CHECK(layer.weight.is_same(base.weight));
  CHECK_FALSE(layer.weight.requires_grad());
  CHECK(layer.lora_A->weight.shape() == Shape({2, 6}));
  CHECK(layer.lora_B->weight.shape() == Shape({4, 2}));
  CHECK(layer.scaling() == 2.0);
  CHECK(layer.num_parameters(true) == Lora::parameter_count(6, 4, options));
  CHECK(Lora::parameter_count(6, 4, options) == 2 * (6 + 4));
  Generator gen(2);
  Variable x(randn({3, 6}, gen));
  CHECK(max_abs_diff(layer.forward(x).data(), base.forward(x).data()) == 0.0);
}

// y = x W0^T + b + s (h A^T) B^T: with W0 frozen the backward runs dB, d(hA^T), dA and
// dx = dy W0 + d(hA^T) A (one matmul_sum): 4 GEMMs (3 when x needs no gradient), and never
// dW0 = dy^T x.
TEST_CASE("lora frozen W0: no gradient and no weight-gradient GEMM") {
  for (bool x_needs_grad : {true, false}) {
    CAPTURE(x_needs_grad);
    Linear base(6, 5, true, 1);
    Lora layer(base, LoraOptions{});
    Generator gen(4);
    layer.lora_B->weight.data().copy_from(randn({5, 8}, gen));
    Variable x(randn({2, 3, 6}, gen), x_needs_grad);
    Variable y = layer.forward(x);
    int64_t before = gemm_call_count();
    y.backward(ones(y.shape()));
    CHECK(gemm_call_count() - before == (x_needs_grad ? 4 : 3));
    CHECK_FALSE(layer.weight.grad().defined());
    CHECK_FALSE(layer.bias.grad().defined());
    CHECK(layer.lora_A->weight.grad().defined());
    CHECK(layer.lora_B->weight.grad().defined());
  }
}

TEST_CASE("lora merge and unmerge agree with the adapter forward; dropout only in training") {
  Linear base(8, 12, true, 1);
  LoraOptions options;
  options.dropout = 0.5;
  Lora layer(base, options);
  Generator gen(6);
  layer.lora_B->weight.data().copy_from(randn({12, 8}, gen));
  layer.eval();
  Variable x(randn({2, 5, 8}, gen));
  Tensor adapted = layer.forward(x).data();
  CHECK(max_abs_diff(layer.forward(x).data(), adapted) == 0.0);   // eval: no dropout
  layer.train();
  CHECK(max_abs_diff(layer.forward(x).data(), adapted) > 1e-3);    // train: dropout on A's input
  layer.eval();
  Tensor original = layer.weight.data().clone();
  layer.merge();
  CHECK(max_abs_diff(layer.forward(x).data(), adapted) < 1e-5);
  layer.unmerge();
  CHECK(max_abs_diff(layer.weight.data(), original) < 1e-6);
  CHECK_THROWS_WITH_AS(layer.unmerge(), doctest::Contains("not merged"), std::runtime_error);
}
