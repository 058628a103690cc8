// Elementwise ops: tensor/scalar_math.h, tensor/elementwise.h and autograd/elementwise.h.
// Forward values (some by hand), broadcasting, the large-tensor (threaded) paths against a
// plain loop, error messages, and a composite graph's gradients. Each op's gradient check and
// float64 forward against a loop: the op table (tests/test_ops.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "autograd/elementwise.h"
#include "autograd/reduce.h"
#include "tensor/gpu.h"
#include "tensor/scalar_math.h"
#include "tensor/shape_ops.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "tests/tensor_check.h"

using namespace neat;
using namespace neat::test;

namespace {

Tensor f32(std::vector<float> v, Shape shape = {}) { return from_vector(v, std::move(shape)); }

// Central difference of a scalar function.
template <typename F>
double numeric_derivative(F f, double x) {
  const double h = 1e-6;
  return (f(x + h) - f(x - h)) / (2 * h);
}

}  // namespace

// ---- scalar math -------------------------------------------------------------------------

TEST_CASE("scalar_math values by hand") {
  CHECK(gelu_forward(1.0) == doctest::Approx(0.8413447460685429).epsilon(1e-14));
  CHECK(gelu_forward(-1.0) == doctest::Approx(-0.15865525393145707).epsilon(1e-14));
  CHECK(gelu_forward(0.0) == 0.0);
  CHECK(gelu_derivative(0.0) == doctest::Approx(0.5));
  CHECK(sigmoid_forward(0.0) == 0.5);
  CHECK(sigmoid_forward(-1000.0f) == 0.0f);  // e^1000 overflows to inf: still 0, not NaN
  CHECK(sigmoid_forward(1000.0f) == 1.0f);
  CHECK(relu_forward(-2.0) == 0.0);
  CHECK(relu_forward(3.0) == 3.0);
  CHECK(relu_derivative(0.0) == 0.0);  // 0 at the kink, like PyTorch
  CHECK(std::isnan(relu_forward(std::numeric_limits<double>::quiet_NaN())));
  CHECK(sin2pi_forward(0.25) == doctest::Approx(1.0));
  CHECK(sin2pi_derivative(0.0) == doctest::Approx(2 * kPi));
  CHECK(identity_forward(1.5f) == 1.5f);
  CHECK(identity_derivative(1.5f) == 1.0f);
}

TEST_CASE("scalar_math.h usage example") {
  float y = gelu_forward(0.5f);
  float dy = gelu_derivative(0.5f);
  double d = tanh_derivative_from_output(std::tanh(0.3));
  CHECK(y == doctest::Approx(0.3457312306).epsilon(1e-6));
  CHECK(dy == doctest::Approx(0.8674951247).epsilon(1e-6));
  CHECK(d == doctest::Approx(1 - std::tanh(0.3) * std::tanh(0.3)));
}

TEST_CASE("scalar_math float exp and erf match libm") {
  // exp_poly: within 2 ulp (relative 2.4e-7) wherever the result is a normal float.
  double worst_exp = 0, worst_erf = 0;
  for (int i = -200000; i <= 200000; ++i) {
    const float x = float(i) * 4.4e-4f;  // [-88, 88]
    const double want = std::exp(double(x));
    worst_exp = std::fmax(worst_exp, std::fabs(double(exp_poly(x)) - want) / want);
    const float z = float(i) * 3e-5f;    // [-6, 6]
    worst_erf = std::fmax(worst_erf, std::fabs(double(erf_rational(z)) - std::erf(double(z))));
  }
  CHECK(worst_exp < 2.4e-7);
  CHECK(worst_erf < 4e-7);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  CHECK(exp_poly(0.0f) == 1.0f);
  CHECK(exp_poly(-inf) == 0.0f);
  CHECK(exp_poly(inf) == inf);
  CHECK(exp_poly(89.0f) == inf);
  CHECK(exp_poly(88.7f) == doctest::Approx(std::exp(double(88.7f))).epsilon(1e-6));
  CHECK(exp_poly(-100.0f) == doctest::Approx(std::exp(-100.0)).epsilon(1e-2));  // subnormal
  CHECK(exp_poly(-105.0f) == 0.0f);
  CHECK(std::isnan(exp_poly(nan)));
  CHECK(erf_rational(0.0f) == 0.0f);
  CHECK(erf_rational(inf) == 1.0f);
  CHECK(erf_rational(-inf) == -1.0f);
  CHECK(std::isnan(erf_rational(nan)));
  // float and double instantiations agree to float precision (absolute error 1e-6 scaled by
  // the size of the value: gelu's negative tail is 1 + erf(x), which cancels in any float).
  auto close = [](double got, double want) { return std::fabs(got - want) < 1e-6 * (1 + std::fabs(want)); };
  for (float x : {-5.0f, -1.3f, -0.01f, 0.2f, 2.7f, 6.0f}) {
    CAPTURE(x);
    CHECK(close(gelu_forward(x), gelu_forward(double(x))));
    CHECK(close(gelu_derivative(x), gelu_derivative(double(x))));
    CHECK(close(sigmoid_forward(x), sigmoid_forward(double(x))));
    CHECK(close(exp_forward(x), exp_forward(double(x))));
  }
}

// exp_nonpositive is exp_poly to the bit wherever e^x is a normal float (every 97th float of
// [-87.34, 0], and the ends), 0 below; GELU's derivative uses it.
TEST_CASE("scalar_math exp_nonpositive is exp_poly down to the smallest normal, then 0") {
  const float lo = -87.3365478515625f;   // ln(2^-126)
  int64_t checked = 0, differ = 0;
  uint32_t bits_lo;
  std::memcpy(&bits_lo, &lo, sizeof(float));
  for (uint32_t bits = 0x80000000u; bits <= bits_lo; bits += 97) {   // -0 down to lo
    float x;
    std::memcpy(&x, &bits, sizeof(float));
    differ += exp_nonpositive(x) != exp_poly(x);
    ++checked;
  }
  CHECK(checked > 10000000);
  CHECK(differ == 0);
  CHECK(exp_nonpositive(0.0f) == 1.0f);
  CHECK(exp_nonpositive(lo) == exp_poly(lo));
  CHECK(exp_nonpositive(std::nextafter(lo, -200.0f)) == 0.0f);
  CHECK(exp_nonpositive(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(std::isfinite(exp_nonpositive(std::nanf(""))));
}

TEST_CASE("scalar_math derivatives match finite differences") {
  for (double x : {-2.3, -0.7, 0.4, 1.9}) {
    CAPTURE(x);
    const double p = std::fabs(x);  // positive point for log / sqrt
    CHECK(neg_derivative(x) == doctest::Approx(numeric_derivative([](double v) { return neg_forward(v); }, x)));
    CHECK(exp_derivative(x) == doctest::Approx(numeric_derivative([](double v) { return exp_forward(v); }, x)));
    CHECK(exp_derivative_from_output(exp_forward(x)) == doctest::Approx(exp_derivative(x)));
    CHECK(log_derivative(p) == doctest::Approx(numeric_derivative([](double v) { return log_forward(v); }, p)));
    CHECK(sqrt_derivative(p) == doctest::Approx(numeric_derivative([](double v) { return sqrt_forward(v); }, p)));
    CHECK(sqrt_derivative_from_output(sqrt_forward(p)) == doctest::Approx(sqrt_derivative(p)));
    CHECK(tanh_derivative(x) == doctest::Approx(numeric_derivative([](double v) { return tanh_forward(v); }, x)));
    CHECK(tanh_derivative_from_output(tanh_forward(x)) == doctest::Approx(tanh_derivative(x)));
    CHECK(sigmoid_derivative(x) == doctest::Approx(numeric_derivative([](double v) { return sigmoid_forward(v); }, x)));
    CHECK(sigmoid_derivative_from_output(sigmoid_forward(x)) == doctest::Approx(sigmoid_derivative(x)));
    CHECK(relu_derivative(x) == doctest::Approx(numeric_derivative([](double v) { return relu_forward(v); }, x)));
    CHECK(gelu_derivative(x) == doctest::Approx(numeric_derivative([](double v) { return gelu_forward(v); }, x)));
    CHECK(sin_derivative(x) == doctest::Approx(numeric_derivative([](double v) { return sin_forward(v); }, x)));
    CHECK(sin2pi_derivative(x) == doctest::Approx(numeric_derivative([](double v) { return sin2pi_forward(v); }, x)));
    CHECK(pow_derivative(p, 2.5) == doctest::Approx(numeric_derivative([](double v) { return pow_forward(v, 2.5); }, p)));
  }
}

// ---- forward values ----------------------------------------------------------------------

TEST_CASE("elementwise.h usage example") {
  const int64_t B = 2, N = 3, D = 4;
  Generator gen(1);
  Tensor x = randn({B, N, D}, gen), bias = randn({D}, gen);
  Tensor y = add(x, bias);
  CHECK(y.shape() == Shape{B, N, D});
  CHECK(y.at({1, 2, 3}) == doctest::Approx(x.at({1, 2, 3}) + bias.at({3})));
  Tensor grad_y = ones({B, N, D});
  Tensor g = sum_to(grad_y, {D});
  CHECK(g.shape() == Shape{D});
  CHECK(g.to_vector<float>() == std::vector<float>{6, 6, 6, 6});
}

TEST_CASE("elementwise unary values") {
  Tensor x = f32({-1.f, 0.f, 0.5f, 4.f});
  CHECK(relu(x).to_vector<float>() == std::vector<float>{0, 0, 0.5f, 4});
  CHECK(neg(x).to_vector<float>() == std::vector<float>{1, -0.f, -0.5f, -4});
  CHECK(sqrt(f32({4.f, 9.f})).to_vector<float>() == std::vector<float>{2, 3});
  CHECK(exp(f32({0.f})).item() == 1.0);
  CHECK(log(f32({1.f})).item() == 0.0);
  CHECK(tanh(f32({0.f})).item() == 0.0);
  CHECK(sigmoid(f32({0.f})).item() == 0.5);
  CHECK(gelu(f32({1.f})).item() == doctest::Approx(0.8413447).epsilon(1e-6));
  CHECK(sin(f32({float(kPi / 2)})).item() == doctest::Approx(1.0));
  CHECK(unary(UnaryOp::Sin2Pi, f32({0.25f})).item() == doctest::Approx(1.0));
  CHECK(unary(UnaryOp::Identity, x).to_vector<float>() == x.to_vector<float>());
  Tensor d = exp(from_vector(std::vector<double>{1.0}));
  CHECK(d.dtype() == DType::Float64);
  CHECK(d.item() == doctest::Approx(std::exp(1.0)).epsilon(1e-15));
  CHECK(std::string(unary_op_name(UnaryOp::Gelu)) == "gelu");
}

TEST_CASE("elementwise unary_backward reads x or y") {
  Tensor x = from_vector(std::vector<double>{-1, 0, 2});
  Tensor dy = from_vector(std::vector<double>{3, 3, 3});
  // relu reads x; its derivative is 0 at 0.
  CHECK(unary_backward(UnaryOp::Relu, dy, x, Tensor()).to_vector<double>() == std::vector<double>{0, 0, 3});
  // exp reads y: dx = dy * y.
  Tensor y = exp(x);
  Tensor dx = unary_backward(UnaryOp::Exp, dy, Tensor(), y);
  CHECK(dx.at({2}) == doctest::Approx(3 * std::exp(2.0)));
  CHECK(unary_derivative_uses_output(UnaryOp::Exp));
  CHECK_FALSE(unary_derivative_uses_output(UnaryOp::Gelu));
  CHECK(mentions(thrown_message([&] { unary_backward(UnaryOp::Tanh, dy, x, Tensor()); }), {"tanh", "output"}));
}

TEST_CASE("every UnaryOp runs its own scalar function and derivative (tensor/elementwise_ops.h)") {
  // The enum -> functor table is written once for both devices; a wrong row would give one op
  // another's math everywhere. x > 0, so that log and sqrt are defined; float64, so every
  // value is compared exactly (the derivatives from the output equal those from the input here).
  struct Case {
    UnaryOp op;
    double (*f)(double);
    double (*df)(double);
  };
  const Case cases[] = {
      {UnaryOp::Neg, neg_forward<double>, neg_derivative<double>},
      {UnaryOp::Exp, exp_forward<double>, exp_derivative<double>},
      {UnaryOp::Log, log_forward<double>, log_derivative<double>},
      {UnaryOp::Sqrt, sqrt_forward<double>, sqrt_derivative<double>},
      {UnaryOp::Tanh, tanh_forward<double>, tanh_derivative<double>},
      {UnaryOp::Sigmoid, sigmoid_forward<double>, sigmoid_derivative<double>},
      {UnaryOp::Relu, relu_forward<double>, relu_derivative<double>},
      {UnaryOp::Gelu, gelu_forward<double>, gelu_derivative<double>},
      {UnaryOp::Sin, sin_forward<double>, sin_derivative<double>},
      {UnaryOp::Sin2Pi, sin2pi_forward<double>, sin2pi_derivative<double>},
      {UnaryOp::Silu, silu_forward<double>, silu_derivative<double>},
      {UnaryOp::Identity, identity_forward<double>, identity_derivative<double>},
  };
  const std::vector<double> xs = {0.3, 1.7, 2.5}, dys = {1.0, -2.0, 0.5};
  const Tensor x = from_vector(xs), dy = from_vector(dys);
  for (const Case& c : cases) {
    CAPTURE(unary_op_name(c.op));
    const Tensor y = unary(c.op, x);
    const std::vector<double> got_y = y.to_vector<double>();
    const std::vector<double> got_dx = unary_backward(c.op, dy, x, y).to_vector<double>();
    for (size_t i = 0; i < xs.size(); ++i) {
      CHECK(got_y[i] == c.f(xs[i]));
      CHECK(got_dx[i] == dys[i] * c.df(xs[i]));
    }
  }
}

TEST_CASE("elementwise binary values and broadcasting") {
  Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(add(a, f32({10, 20, 30})).to_vector<float>() == std::vector<float>{11, 22, 33, 14, 25, 36});
  CHECK(sub(a, f32({1, 2}, {2, 1})).to_vector<float>() == std::vector<float>{0, 1, 2, 2, 3, 4});
  CHECK(mul(a, f32({2})).to_vector<float>() == std::vector<float>{2, 4, 6, 8, 10, 12});
  CHECK(div(a, scalar_tensor(2)).to_vector<float>() == std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3});
  CHECK(div(scalar_tensor(6), a).shape() == Shape{2, 3});
  // [3, 1] * [1, 4] -> [3, 4]: an outer product.
  Tensor outer = mul(f32({1, 2, 3}, {3, 1}), f32({1, 10, 100, 1000}, {1, 4}));
  CHECK(outer.shape() == Shape{3, 4});
  CHECK(outer.at({2, 3}) == 3000.0);
  CHECK(outer.at({1, 1}) == 20.0);
  // [3, 1, 5] + [4, 5] -> [3, 4, 5]
  Tensor p = arange(15).reshape({3, 1, 5}), q = arange(20).reshape({4, 5});
  Tensor r = add(p, q);
  CHECK(r.shape() == Shape{3, 4, 5});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 5; ++k) CHECK(r.at({i, j, k}) == p.at({i, 0, k}) + q.at({j, k}));
  // int64 add / mul are supported; div is not.
  Tensor i64 = from_vector(std::vector<int64_t>{1, 2, 3});
  CHECK(mul(add(i64, i64), i64).to_vector<int64_t>() == std::vector<int64_t>{2, 8, 18});
  CHECK(mentions(thrown_message([&] { div(i64, i64); }), {"div", "int64", "[3]"}));

  CHECK(add_scalar(a, 1).at({0, 0}) == 2.0);
  CHECK(mul_scalar(a, -2).at({1, 2}) == -12.0);
  CHECK(pow_scalar(a, 2).at({1, 1}) == 25.0);
  CHECK(pow_scalar(f32({4}), 0.5).item() == 2.0);
}

TEST_CASE("elementwise broadcast_shapes") {
  CHECK(broadcast_shapes({3, 1, 5}, {4, 5}, "op") == Shape{3, 4, 5});
  CHECK(broadcast_shapes({}, {2, 3}, "op") == Shape{2, 3});
  CHECK(broadcast_shapes({1}, {2, 3}, "op") == Shape{2, 3});
  CHECK(broadcast_shapes({2, 1}, {1, 0}, "op") == Shape{2, 0});
  CHECK(add(zeros({2, 1, 0}), zeros({3, 1})).shape() == Shape{2, 3, 0});
  CHECK(mul(zeros({0, 3}), zeros({3})).numel() == 0);
  std::string msg = thrown_message([] { broadcast_shapes({2, 3}, {4}, "mul"); });
  CHECK(mentions(msg, {"mul", "[2, 3]", "[4]", "broadcast"}));
}

TEST_CASE("elementwise large tensors match a plain loop") {
  // Big enough for the threaded loops, with broadcast patterns that merge and that do not.
  Generator gen(3);
  Tensor a = randn({67, 33, 29}, gen), b = randn({33, 1}, gen), c = randn({67, 33, 29}, gen);
  Tensor s = add(a, c), m = mul(a, b), e = exp(a);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* pc = c.data<float>();
  bool same = true;
  for (int64_t i = 0; i < 67; ++i)
    for (int64_t j = 0; j < 33; ++j)
      for (int64_t k = 0; k < 29; ++k) {
        const int64_t f = (i * 33 + j) * 29 + k;
        same = same && s.data<float>()[f] == pa[f] + pc[f];
        same = same && m.data<float>()[f] == pa[f] * pb[j];
        same = same && e.data<float>()[f] == exp_forward(pa[f]);
      }
  CHECK(same);
  Tensor big_sub = sub(b, a);  // broadcast on the left operand
  CHECK(big_sub.at({66, 32, 28}) == doctest::Approx(b.at({32, 0}) - a.at({66, 32, 28})));
}

TEST_CASE("elementwise sum_to and expand") {
  Tensor g = arange(24).reshape({2, 3, 4});
  Tensor s = sum_to(g, {3, 1});
  CHECK(s.shape() == Shape{3, 1});
  // row j of the [3, 4] slices, summed over the batch dim and the last dim
  CHECK(s.at({0, 0}) == (0 + 1 + 2 + 3) + (12 + 13 + 14 + 15));
  CHECK(sum_to(g, {4}).to_vector<float>() == std::vector<float>{60, 66, 72, 78});
  CHECK(sum_to(g, {1}).item() == 276.0);
  CHECK(sum_to(g, {2, 3, 4}).is_same(g));
  CHECK(sum_to(g, {1, 3, 4}).at({0, 1, 2}) == 6.0 + 18.0);
  CHECK(mentions(thrown_message([&] { sum_to(g, {5}); }), {"sum_to", "[2, 3, 4]", "[5]"}));

  Tensor e = expand(f32({1, 2, 3}, {3, 1}), {2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.at({1, 2, 3}) == 3.0);
  CHECK(e.at({0, 1, 0}) == 2.0);
  CHECK(expand(scalar_tensor(7), {2}).to_vector<float>() == std::vector<float>{7, 7});
  CHECK(mentions(thrown_message([] { expand(zeros({3}), {4}); }), {"expand", "[3]", "[4]"}));
}

TEST_CASE("elementwise in-place helpers and all_finite") {
  Tensor d = f32({1, 2, 3});
  add_(d, f32({1, 1, 1}));
  CHECK(d.to_vector<float>() == std::vector<float>{2, 3, 4});
  axpy_(d, -2.0, f32({1, 0, 1}));
  CHECK(d.to_vector<float>() == std::vector<float>{0, 3, 2});
  scale_(d, 0.5);
  CHECK(d.to_vector<float>() == std::vector<float>{0, 1.5f, 1});
  CHECK(mentions(thrown_message([&] { add_(d, zeros({2})); }), {"add_", "[3]", "[2]"}));
  CHECK(mentions(thrown_message([&] { axpy_(d, 1.0, zeros({3}, DType::Float64)); }), {"axpy_", "float64"}));

  CHECK(all_finite(d));
  d.set({1}, std::numeric_limits<double>::infinity());
  CHECK_FALSE(all_finite(d));
  Tensor big = zeros({100000}, DType::Float64);
  CHECK(all_finite(big));
  big.set({99999}, std::nan(""));
  CHECK_FALSE(all_finite(big));
  CHECK(all_finite(from_vector(std::vector<int64_t>{1})));
}

TEST_CASE("cuda: elementwise ops equal the CPU's (every unary op, broadcasts, int64, in place)") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  const UnaryOp ops[] = {UnaryOp::Neg,     UnaryOp::Exp,  UnaryOp::Log,  UnaryOp::Sqrt,
                         UnaryOp::Tanh,    UnaryOp::Sigmoid, UnaryOp::Relu, UnaryOp::Gelu,
                         UnaryOp::Sin,     UnaryOp::Sin2Pi, UnaryOp::Silu, UnaryOp::Identity};
  for (DType dt : {DType::Float32, DType::Float64}) {
    CAPTURE(dtype_name(dt));
    // The same functions on both devices; float differs in the last bits where the GPU fuses a
    // multiply-add, double also where the GPU's libm rounds otherwise.
    const double tol = dt == DType::Float32 ? 1e-12 : 1e-24;
    // 27090 elements (many blocks), x > 0 so that log and sqrt are defined.
    const Tensor x = random64({3, 70, 129}, 1, 0.1, 2.1).to(dt), dy = random64({3, 70, 129}, 2).to(dt);
    const Tensor xg = x.to(Device::CUDA), dyg = dy.to(Device::CUDA);
    for (UnaryOp op : ops) {
      CAPTURE(unary_op_name(op));
      const Tensor y = unary(op, x), yg = unary(op, xg);
      CHECK(cuda_nmse(yg, y) < tol);
      CHECK(cuda_nmse(unary_backward(op, dyg, xg, yg), unary_backward(op, dy, x, y)) < tol);
    }
    CHECK(cuda_nmse(add_scalar(xg, 0.3), add_scalar(x, 0.3)) == 0.0);
    CHECK(cuda_nmse(mul_scalar(xg, -1.7), mul_scalar(x, -1.7)) == 0.0);
    CHECK(cuda_nmse(pow_scalar(xg, 1.5), pow_scalar(x, 1.5)) < tol);
    // One IEEE operation per element: bit for bit, in every broadcast pattern (after merging:
    // rows + a vector, a column, both sides broadcast, a 0-d operand, equal shapes).
    const std::vector<std::pair<Shape, Shape>> pairs = {
        {{300, 1000}, {1000}}, {{7, 33, 65}, {7, 33, 1}}, {{4, 1, 6}, {1, 5, 6}},
        {{3, 1, 5}, {2, 3, 4, 5}}, {{}, {5, 1, 3}}, {{2, 3, 4, 5}, {2, 3, 4, 5}}};
    for (const auto& pair : pairs) {
      const Shape& shape_a = pair.first;
      const Shape& shape_b = pair.second;
      CAPTURE(shape_str(shape_a));
      CAPTURE(shape_str(shape_b));
      const Tensor a = random64(shape_a, 3, 0.5, 2).to(dt), b = random64(shape_b, 4, 0.5, 2).to(dt);
      const Tensor ag = a.to(Device::CUDA), bg = b.to(Device::CUDA);
      CHECK(cuda_nmse(add(ag, bg), add(a, b)) == 0.0);
      CHECK(cuda_nmse(sub(bg, ag), sub(b, a)) == 0.0);
      CHECK(cuda_nmse(mul(ag, bg), mul(a, b)) == 0.0);
      CHECK(cuda_nmse(div(ag, bg), div(a, b)) == 0.0);
    }
    const Tensor c = random64({3, 1, 5}, 5).to(dt);
    CHECK(cuda_nmse(expand(c.to(Device::CUDA), {2, 3, 4, 5}), expand(c, {2, 3, 4, 5})) == 0.0);
    // In place: d = 1.3 (x + dy - 0.75 dy).
    Tensor d = x.clone(), dg = xg.clone();
    add_(d, dy);
    add_(dg, dyg);
    axpy_(d, -0.75, dy);
    axpy_(dg, -0.75, dyg);
    scale_(d, 1.3);
    scale_(dg, 1.3);
    CHECK(cuda_nmse(dg, d) < tol);
    // all_finite over a million elements, a NaN or an inf in one block among many.
    Tensor big = zeros({1 << 20}, dt);
    CHECK(all_finite(big.to(Device::CUDA)));
    big.set({654321}, std::nan(""));
    CHECK_FALSE(all_finite(big.to(Device::CUDA)));
    big.set({654321}, 0.0);
    big.set({17}, -std::numeric_limits<double>::infinity());
    CHECK_FALSE(all_finite(big.to(Device::CUDA)));
  }
  // int64: add, sub, mul (with broadcasting), add_ and expand.
  const Tensor i = arange(60, DType::Int64).reshape({3, 4, 5}), j = arange(5, DType::Int64);
  const Tensor ig = i.to(Device::CUDA), jg = j.to(Device::CUDA);
  CHECK(cuda_nmse(add(ig, jg), add(i, j)) == 0.0);
  CHECK(cuda_nmse(sub(jg, ig), sub(j, i)) == 0.0);
  CHECK(cuda_nmse(mul(ig, ig), mul(i, i)) == 0.0);
  CHECK(cuda_nmse(expand(jg, {3, 4, 5}), expand(j, {3, 4, 5})) == 0.0);
  Tensor k = i.clone(), kg = ig.clone();
  add_(k, i);
  add_(kg, ig);
  CHECK(cuda_nmse(kg, k) == 0.0);
}

TEST_CASE("elementwise bf16: float32 math on the widened values, rounded once, bit for bit") {
  // Every op on a bf16 tensor equals the same op on its float32 widening, rounded to bf16: the
  // kernels compute in float32 (math_t) and round only when they store. 33033 elements: the
  // threaded loops; [B, N, D] + [D] and + [B, N, 1]: both broadcast loops.
  const UnaryOp ops[] = {UnaryOp::Neg,  UnaryOp::Exp,     UnaryOp::Log,  UnaryOp::Sqrt,
                         UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Relu, UnaryOp::Gelu,
                         UnaryOp::Sin,  UnaryOp::Sin2Pi,  UnaryOp::Silu, UnaryOp::Identity};
  const Tensor x = random64({3, 77, 143}, 1, -2, 2).to(DType::BFloat16);
  const Tensor dy = random64({3, 77, 143}, 2).to(DType::BFloat16);
  const Tensor x32 = x.to(DType::Float32), dy32 = dy.to(DType::Float32);
  for (UnaryOp op : ops) {
    CAPTURE(unary_op_name(op));
    const Tensor y = unary(op, x);  // log and sqrt of x < 0: NaN, the same NaN bits both ways
    CHECK(is_rounded_float32(y, unary(op, x32)));
    CHECK(is_rounded_float32(unary_backward(op, dy, x, y),
                             unary_backward(op, dy32, x32, y.to(DType::Float32))));
  }
  for (const Shape& shape_b : std::vector<Shape>{{3, 77, 143}, {143}, {3, 77, 1}}) {
    CAPTURE(shape_str(shape_b));
    const Tensor b = random64(shape_b, 3, 0.5, 2).to(DType::BFloat16), b32 = b.to(DType::Float32);
    CHECK(is_rounded_float32(add(x, b), add(x32, b32)));
    CHECK(is_rounded_float32(sub(b, x), sub(b32, x32)));
    CHECK(is_rounded_float32(mul(x, b), mul(x32, b32)));
    CHECK(is_rounded_float32(div(x, b), div(x32, b32)));
  }
  // The scalar stays a float32: x * 0.1 is x * 0.1f rounded once, not x * bf16(0.1) = x *
  // 0.10009765625, which differs for some x.
  CHECK(is_rounded_float32(mul_scalar(x, 0.1), mul_scalar(x32, 0.1)));
  CHECK_FALSE(is_rounded_float32(mul_scalar(x, 0.1), mul_scalar(x32, 0.10009765625)));
  CHECK(is_rounded_float32(add_scalar(x, 0.3), add_scalar(x32, 0.3)));
  CHECK(is_rounded_float32(pow_scalar(x, 2), pow_scalar(x32, 2)));
  Tensor d = x.clone(), d32 = x32.clone();
  add_(d, dy);
  add_(d32, dy32);
  CHECK(is_rounded_float32(d, d32));
  d32 = d.to(DType::Float32);
  axpy_(d, -0.75, dy);
  axpy_(d32, -0.75, dy32);
  CHECK(is_rounded_float32(d, d32));
  d32 = d.to(DType::Float32);
  scale_(d, 1.3);
  scale_(d32, 1.3);
  CHECK(is_rounded_float32(d, d32));
  const Tensor row = narrow(x, 0, 0, 1);
  CHECK(is_rounded_float32(expand(row, {4, 77, 143}),
                           expand(row.to(DType::Float32), {4, 77, 143})));
  CHECK(all_finite(x));
  Tensor bad = x.clone();
  bad.set({2, 5, 7}, INFINITY);
  CHECK_FALSE(all_finite(bad));
  // float16 stays a storage type.
  CHECK_THROWS_WITH(exp(x.to(DType::Float16)), doctest::Contains("exp: no float16 kernel"));
}

TEST_CASE("cuda: bf16 elementwise ops equal the CPU's (packed loads, their tails, broadcasts)") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  const UnaryOp ops[] = {UnaryOp::Neg,  UnaryOp::Exp,     UnaryOp::Log,  UnaryOp::Sqrt,
                         UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Relu, UnaryOp::Gelu,
                         UnaryOp::Sin,  UnaryOp::Sin2Pi,  UnaryOp::Silu, UnaryOp::Identity};
  // 8 bf16 a 16-byte pack: 27090 elements leave a tail of 2 for the one-at-a-time kernel.
  for (const Shape& shape : std::vector<Shape>{{3, 70, 129}, {5, 1000}}) {
    CAPTURE(shape_str(shape));
    const Tensor x = random64(shape, 1, 0.1, 2.1).to(DType::BFloat16);
    const Tensor dy = random64(shape, 2).to(DType::BFloat16);
    const Tensor xg = x.to(Device::CUDA), dyg = dy.to(Device::CUDA);
    for (UnaryOp op : ops) {
      CAPTURE(unary_op_name(op));
      // The GPU may fuse a multiply-add in the float32 math: now and then one bf16 ulp apart.
      const Tensor y = unary(op, x), yg = unary(op, xg);
      CHECK(cuda_nmse(yg, y) < 1e-6);
      CHECK(cuda_nmse(unary_backward(op, dyg, xg, yg), unary_backward(op, dy, x, y)) < 1e-6);
    }
    // One IEEE operation in float32, rounded once: bit for bit.
    for (const Shape& shape_b : std::vector<Shape>{shape, {shape.back()}}) {
      const Tensor b = random64(shape_b, 3, 0.5, 2).to(DType::BFloat16), bg = b.to(Device::CUDA);
      CHECK(cuda_nmse(add(xg, bg), add(x, b)) == 0.0);
      CHECK(cuda_nmse(div(xg, bg), div(x, b)) == 0.0);
    }
    CHECK(cuda_nmse(mul_scalar(xg, 0.1), mul_scalar(x, 0.1)) == 0.0);
    Tensor d = x.clone(), dg = xg.clone();
    axpy_(d, -0.75, dy);
    axpy_(dg, -0.75, dyg);
    CHECK(cuda_nmse(dg, d) < 1e-6);
  }
}

TEST_CASE("elementwise errors name the op and the shapes") {
  std::string msg = thrown_message([] { add(zeros({2, 3}), zeros({4})); });
  CHECK(mentions(msg, {"add", "[2, 3]", "[4]"}));
  msg = thrown_message([] { sub(zeros({3, 2}), zeros({2, 3})); });
  CHECK(mentions(msg, {"sub", "[3, 2]", "[2, 3]"}));
  msg = thrown_message([] { add(zeros({3}), zeros({3}, DType::Float64)); });
  CHECK(mentions(msg, {"add", "dtype", "float32", "float64"}));
  msg = thrown_message([] { exp(zeros({2}, DType::Int64)); });
  CHECK(mentions(msg, {"exp", "int64", "[2]"}));
  msg = thrown_message([] { mul(Variable(zeros({5, 2})), Variable(zeros({3, 2}))); });
  CHECK(mentions(msg, {"mul", "[5, 2]", "[3, 2]"}));
}

TEST_CASE("autograd elementwise.h usage example") {
  Generator gen(2);
  Variable x(randn({3, 4}, gen, DType::Float64), true);
  Variable w(randn({4}, gen, DType::Float64), true);
  Variable b(randn({1}, gen, DType::Float64), true);
  Variable y = add(mul(x, w), b);
  Variable y2 = x * w + b;
  CHECK(max_abs_diff(y.data(), y2.data()) == 0.0);
  Variable z = gelu(y);
  CHECK(z.shape() == Shape{3, 4});
  CHECK(z.requires_grad());
  CHECK(std::string(z.grad_fn()->name()) == "gelu");
  sum(z).backward();
  CHECK(b.grad().shape() == Shape{1});
  check_gradients([](const std::vector<Variable>& in) { return gelu(in[0] * in[1] + in[2]); },
                  {x.data(), w.data(), b.data()});
}

TEST_CASE("autograd elementwise operators") {
  Variable a(from_vector(std::vector<double>{1, 2, 3}), true);
  Variable b(from_vector(std::vector<double>{4, 5, 6}));
  CHECK((a + b).data().to_vector<double>() == std::vector<double>{5, 7, 9});
  CHECK((a - b).data().to_vector<double>() == std::vector<double>{-3, -3, -3});
  CHECK((a * b).data().to_vector<double>() == std::vector<double>{4, 10, 18});
  CHECK((b / a).data().to_vector<double>() == std::vector<double>{4, 2.5, 2});
  CHECK((-a).data().to_vector<double>() == std::vector<double>{-1, -2, -3});
  CHECK((a + 1.0).data().to_vector<double>() == std::vector<double>{2, 3, 4});
  CHECK((a * 2.0).data().to_vector<double>() == std::vector<double>{2, 4, 6});
  CHECK((2.0 * a).data().to_vector<double>() == std::vector<double>{2, 4, 6});
  CHECK(std::string((a * b).grad_fn()->name()) == "mul");
}

// ---- gradient checks ---------------------------------------------------------------------

TEST_CASE("elementwise composite graph with a shared input passes gradcheck") {
  // x feeds three ops and the broadcast w two: gradients from every path must add up.
  auto f = [](const std::vector<Variable>& in) {
    const Variable& x = in[0];
    const Variable& w = in[1];
    return tanh(x * w) + sigmoid(x) / (exp(w) + 1.0) - x * x;
  };
  check_gradients(f, {random64({4, 3}, 37), random64({3}, 38)});
}
