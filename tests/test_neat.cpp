// Neat: the fused op against finite differences and against the same computation composed
// from primitive ops; frozen W0 costs no gradient GEMM; the layer's names, merge and unmerge.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "nn/linear.h"
#include "nn/peft/neat.h"
#include "nn/peft/neat_function.h"
#include "nn/peft/neat_reference.h"
#include "tensor/cpu/gemm.h"
#include "tests/op_test_util.h"

using namespace neat;
using neat::test::max_abs;
using neat::test::max_abs_diff;

namespace {

// One Neat problem: x [2, 3, IN], W0 [OUT, IN], b [OUT], A [R, OUT], B [OUT, R] (non-zero, so
// every gradient is non-trivial), depth-2 layers [R, R].
struct Problem {
  std::vector<Tensor> inputs;   // x, W0, b, A, B, layers...
  NeatSpec spec;
};

Problem make_problem(int64_t in, int64_t out, int64_t r, int64_t depth, NeatActivation act,
                     DType dtype = DType::Float64, uint64_t seed = 7) {
  Generator gen(seed);
  Problem p;
  p.spec.activation = act;
  p.spec.depth = depth;
  p.spec.scale = 0.7;
  p.inputs = {randn({2, 3, in}, gen, dtype), mul_scalar(randn({out, in}, gen, dtype), 0.5),
              randn({out}, gen, dtype), mul_scalar(randn({r, out}, gen, dtype), 0.5),
              randn({out, r}, gen, dtype)};
  for (int64_t i = 0; i < depth - 2; ++i)
    p.inputs.push_back(mul_scalar(randn({r, r}, gen, dtype), 0.5));
  return p;
}

std::vector<Variable> tail(const std::vector<Variable>& in) { return {in.begin() + 5, in.end()}; }

Variable fused(const std::vector<Variable>& in, const NeatSpec& spec) {
  return neat_linear(in[0], in[1], in[2], in[3], in[4], tail(in), spec);
}
Variable reference(const std::vector<Variable>& in, const NeatSpec& spec) {
  return neat_linear_reference(in[0], in[1], in[2], in[3], in[4], tail(in), spec);
}

void gradcheck_neat(NeatActivation act) {
  for (int64_t depth : {2, 4}) {
    for (auto [in, out] : {std::pair<int64_t, int64_t>{5, 5}, {5, 4}, {3, 6}}) {
      CAPTURE(depth);
      CAPTURE(in);
      CAPTURE(out);
      Problem p = make_problem(in, out, 3, depth, act);
      auto f = [&](const std::vector<Variable>& v) { return fused(v, p.spec); };
      GradcheckResult r = gradcheck(f, p.inputs);
      CHECK_MESSAGE(r.ok, r.report);
    }
  }
}

}  // namespace

TEST_CASE("gradcheck neat relu") { gradcheck_neat(NeatActivation::Relu); }
TEST_CASE("gradcheck neat sin2pi") { gradcheck_neat(NeatActivation::Sin2Pi); }
TEST_CASE("gradcheck neat gelu") { gradcheck_neat(NeatActivation::Gelu); }
TEST_CASE("gradcheck neat tanh") { gradcheck_neat(NeatActivation::Tanh); }
TEST_CASE("gradcheck neat identity") { gradcheck_neat(NeatActivation::Identity); }

TEST_CASE("gradcheck neat depth 6, no bias") {
  Problem p = make_problem(4, 7, 2, 6, NeatActivation::Tanh);
  auto f = [&](const std::vector<Variable>& v) {
    return neat_linear(v[0], v[1], Variable(), v[2], v[3], {v.begin() + 4, v.end()}, p.spec);
  };
  std::vector<Tensor> inputs = p.inputs;
  inputs.erase(inputs.begin() + 2);   // drop b
  GradcheckResult r = gradcheck(f, inputs);
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("neat fused op matches the composition of primitive ops (values and gradients)") {
  for (NeatActivation act : {NeatActivation::Relu, NeatActivation::Sin2Pi, NeatActivation::Gelu,
                             NeatActivation::Tanh, NeatActivation::Identity}) {
    for (int64_t depth : {2, 4, 6}) {
      CAPTURE(neat_activation_name(act));
      CAPTURE(depth);
      Problem p = make_problem(6, 5, 3, depth, act);
      Generator gen(3);
      Tensor dy = randn({2, 3, 5}, gen, DType::Float64);
      std::vector<Variable> a, b;
      for (const Tensor& t : p.inputs) {
        a.emplace_back(t.clone(), true);
        b.emplace_back(t.clone(), true);
      }
      Variable ya = fused(a, p.spec), yb = reference(b, p.spec);
      CHECK(max_abs_diff(ya.data(), yb.data()) < 1e-12);
      ya.backward(dy);
      yb.backward(dy);
      for (size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        CHECK(max_abs_diff(a[i].grad(), b[i].grad()) < 1e-11);
      }
    }
  }
}

TEST_CASE("neat depth and shape errors name the problem") {
  Problem p = make_problem(4, 5, 3, 4, NeatActivation::Relu);
  std::vector<Variable> v;
  for (const Tensor& t : p.inputs) v.emplace_back(t);
  NeatSpec odd = p.spec;
  odd.depth = 3;
  CHECK_THROWS_WITH_AS(fused(v, odd), doctest::Contains("depth must be even"), std::runtime_error);
  v[3] = Variable(zeros({3, 4}, DType::Float64));   // A must be [R, OUT=5]
  CHECK_THROWS_WITH_AS(fused(v, p.spec), doctest::Contains("A must be [R, OUT=5], got [3, 4]"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(parse_neat_activation("swish"), doctest::Contains("relu, sin2pi, gelu"),
                       std::runtime_error);
}

TEST_CASE("neat activation names: sin2pi is sin(2 pi x); the old name sin still reads") {
  CHECK(std::string(neat_activation_name(NeatActivation::Sin2Pi)) == "sin2pi");
  CHECK(parse_neat_activation("sin2pi") == NeatActivation::Sin2Pi);
  CHECK(parse_neat_activation("sin") == NeatActivation::Sin2Pi);
  CHECK(neat_activation_op(NeatActivation::Sin2Pi) == UnaryOp::Sin2Pi);
  for (NeatActivation a : {NeatActivation::Relu, NeatActivation::Sin2Pi, NeatActivation::Gelu,
                           NeatActivation::Tanh, NeatActivation::Identity})
    CHECK(parse_neat_activation(neat_activation_name(a)) == a);
}

// With W0 and b frozen the backward runs 2 depth + 1 GEMMs (docs/neat.md): dB, dz, dx (one
// matmul_sum: dy W0 + dz M^T), dM, two per intermediate layer, dA; and none of size OUT x IN
// for W0.
TEST_CASE("neat frozen W0: no gradient and no weight-gradient GEMM") {
  for (int64_t depth : {2, 4}) {
    for (bool x_needs_grad : {true, false}) {
      CAPTURE(depth);
      CAPTURE(x_needs_grad);
      Problem p = make_problem(6, 5, 3, depth, NeatActivation::Relu, DType::Float32);
      std::vector<Variable> v;
      for (size_t i = 0; i < p.inputs.size(); ++i) {
        bool trainable = i == 0 ? x_needs_grad : i >= 3;   // x, W0, b, then A, B, layers
        v.emplace_back(p.inputs[i], trainable);
      }
      Variable y = fused(v, p.spec);
      int64_t before = gemm_call_count();
      y.backward(ones(y.shape()));
      int64_t gemms = gemm_call_count() - before;
      CHECK(gemms == 2 * depth + (x_needs_grad ? 1 : 0));
      CHECK_FALSE(v[1].grad().defined());
      CHECK_FALSE(v[2].grad().defined());
      CHECK(v[0].grad().defined() == x_needs_grad);
      for (size_t i = 3; i < v.size(); ++i) CHECK(v[i].grad().defined());
    }
  }
  // And the same backward with W0 trainable runs the two W0 GEMMs more: the count is real.
  Problem p = make_problem(6, 5, 3, 2, NeatActivation::Relu, DType::Float32);
  std::vector<Variable> v;
  for (const Tensor& t : p.inputs) v.emplace_back(t, true);
  Variable y = fused(v, p.spec);
  int64_t before = gemm_call_count();
  y.backward(ones(y.shape()));
  CHECK(gemm_call_count() - before == 7);
}

namespace {

// A Neat layer on a Linear(IN, OUT) with B (and so the adapter) made non-zero.
std::shared_ptr<Neat> make_layer(int64_t in, int64_t out, const NeatOptions& options) {
  Linear base(in, out, true, 11);
  auto layer = std::make_shared<Neat>(base, options);
  Generator gen(5);
  layer->neat_B->weight.data().copy_from(mul_scalar(randn({out, options.rank}, gen), 0.3));
  return layer;
}

}  // namespace

TEST_CASE("neat layer: names, shared frozen W0, zero-initialised B") {
  Linear base(6, 4, true, 1);
  NeatOptions options;
  options.rank = 3;
  options.depth = 4;
  Neat layer(base, options);
  std::vector<std::string> names;
  for (auto& [name, p] : layer.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"weight", "bias", "neat_A.weight", "neat_B.weight",
                                          "neat_layers.0.weight", "neat_layers.1.weight"});
  CHECK(layer.weight.is_same(base.weight));
  CHECK_FALSE(base.weight.requires_grad());
  CHECK_FALSE(layer.bias.requires_grad());
  CHECK(layer.neat_A->weight.shape() == Shape({3, 4}));
  CHECK(layer.neat_B->weight.shape() == Shape({4, 3}));
  CHECK(layer.num_parameters(true) == Neat::parameter_count(4, options));
  CHECK(Neat::parameter_count(4, options) == 3 * 4 + 4 * 3 + 2 * 9);
  // B = 0: the adapted layer starts as the pre-trained one.
  Generator gen(2);
  Variable x(randn({3, 6}, gen));
  CHECK(max_abs_diff(layer.forward(x).data(), base.forward(x).data()) == 0.0);
  // A is kaiming-uniform like torch.nn.Linear(OUT, R): U(-1/sqrt(OUT), 1/sqrt(OUT)), not zero.
  double largest = 0;
  for (int64_t i = 0; i < 12; ++i) largest = std::max(largest, std::abs(layer.neat_A->weight.data().flat(i)));
  CHECK(largest > 0.05);
  CHECK(largest <= 0.5);
}

TEST_CASE("neat merge and unmerge agree with the adapter forward") {
  for (int64_t depth : {2, 4}) {
    for (auto [in, out] : {std::pair<int64_t, int64_t>{8, 8}, {8, 12}}) {
      CAPTURE(depth);
      CAPTURE(in);
      NeatOptions options;
      options.rank = 4;
      options.depth = depth;
      options.activation = NeatActivation::Sin2Pi;
      auto layer = make_layer(in, out, options);
      Generator gen(9);
      Variable x(randn({2, 5, in}, gen));
      Tensor original_weight = layer->weight.data().clone();
      Tensor adapted = layer->forward(x).data();
      Tensor delta = layer->delta_weight();
      CHECK(delta.shape() == Shape({out, in}));
      layer->merge();
      CHECK(layer->merged());
      CHECK(max_abs_diff(layer->forward(x).data(), adapted) < 1e-5);
      CHECK_THROWS_WITH_AS(layer->merge(), doctest::Contains("already merged"), std::runtime_error);
      layer->unmerge();
      CHECK(max_abs_diff(layer->weight.data(), original_weight) < 1e-6);
      // Float32 rounding of W0 (+ delta - delta) moves M slightly: agreement to 1e-5.
      CHECK(max_abs_diff(layer->forward(x).data(), adapted) < 1e-5);
      CHECK(max_abs_diff(delta, layer->delta_weight()) < 1e-5);
    }
  }
}

// The merged M is a buffer, so it converts with the module: merge in float32, convert the layer
// to float64, unmerge. Unmerge subtracts s B M^T with the very M that merge added (now exact in
// float64), so W0 comes back up to the one float32 rounding of W0 + Delta W made by merge.
TEST_CASE("neat merge, then to(float64), then unmerge restores W0") {
  NeatOptions options;
  options.rank = 3;
  options.depth = 4;
  options.activation = NeatActivation::Gelu;
  auto layer = make_layer(6, 5, options);
  const Tensor original = layer->weight.data().to(DType::Float64);
  layer->merge();
  CHECK(layer->named_buffers().size() == 1);
  CHECK(layer->named_buffers()[0].first == "merged_M");
  CHECK(layer->named_buffers()[0].second.shape() == Shape({6, 3}));   // [IN, R]
  CHECK(layer->state_dict().count("merged_M") == 0);   // non-persistent: not in files
  const double merged_magnitude = max_abs(layer->weight.data());
  layer->to(DType::Float64);
  CHECK(layer->named_buffers()[0].second.dtype() == DType::Float64);
  layer->unmerge();
  CHECK_FALSE(layer->merged());
  CHECK(layer->named_buffers().empty());
  CHECK(layer->weight.dtype() == DType::Float64);
  CHECK(max_abs_diff(layer->weight.data(), original) <= merged_magnitude * 0x1p-24);

  // Now all in float64: merge and unmerge again agree to float64 rounding, and the merged
  // forward equals the adapter's.
  Generator gen(3);
  Variable x(randn({2, 4, 6}, gen, DType::Float64));
  const Tensor w64 = layer->weight.data().clone();
  const Tensor adapted = layer->forward(x).data();
  layer->merge();
  CHECK(max_abs_diff(layer->forward(x).data(), adapted) <= 1e-14 * max_abs(adapted));
  layer->unmerge();
  CHECK(max_abs_diff(layer->weight.data(), w64) <= 1e-15 * max_abs(w64));
}
