// The autograd engine (autograd/variable.h, autograd/engine.cpp): leaf gradients accumulate,
// zero_grad, NoGradGuard, detach, shared inputs, inputs that need no gradient, errors, and a
// deep graph.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/elementwise.h"
#include "autograd/gradcheck.h"
#include "autograd/matmul.h"
#include "autograd/reduce.h"
#include "tests/op_table.h"
#include "tests/op_test_util.h"
#include "tests/tensor_check.h"

using namespace neat;
using namespace neat::test;

TEST_CASE("variable.h usage example") {
  Generator gen(11);
  Variable w(randn({3, 2}, gen), /*requires_grad=*/true);
  Variable x(randn({4, 3}, gen));
  Variable loss = sum(relu(matmul(x, w)));
  loss.backward();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().shape() == Shape{3, 2});
  CHECK_FALSE(x.grad().defined());
  // dL/dw[k, j] = sum_i x[i, k] [ (x w)[i, j] > 0 ]
  Tensor xw = matmul(x.data(), w.data());
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t j = 0; j < 2; ++j) {
      double want = 0;
      for (int64_t i = 0; i < 4; ++i) want += xw.at({i, j}) > 0 ? x.data().at({i, k}) : 0.0;
      CHECK(w.grad().at({k, j}) == doctest::Approx(want).epsilon(1e-5));
    }
  const Tensor first = w.grad().clone();
  loss = sum(relu(matmul(x, w)));  // a second forward and backward: leaf grads accumulate (+=)
  loss.backward();
  CHECK(max_abs_diff(w.grad(), mul_scalar(first, 2.0)) < 1e-5);
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());
  {
    NoGradGuard no_grad;
    Variable y = matmul(x, w);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
  }
}

TEST_CASE("autograd leaf grad accumulates across backward calls") {
  Variable x(from_vector(std::vector<double>{1, 2, 3}), true);
  sum(x * x).backward();  // d/dx sum x^2 = 2x
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 4, 6});
  sum(x * 3.0).backward();  // + 3
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 7, 9});
  // retain_graph keeps the saved tensors, so the same graph can be walked again; grads add up.
  Variable loss = sum(x * x);
  loss.backward(/*retain_graph=*/true);
  loss.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{9, 15, 21});
}

TEST_CASE("graph memory: a node keeps what its backward reads, not its inputs") {
  Generator gen(5);
  Variable h(randn({4, 3}, gen, DType::Float64), true);
  Variable x = mul_scalar(h, 2.0);  // an activation: requires grad, its storage is x's own
  Variable frozen_w(randn({5, 3}, gen, DType::Float64));
  const long before = x.data().storage_use_count();

  // y = linear(x, W) with W frozen: the backward needs W (dx = dy W), never x.
  Variable y = linear(x, frozen_w, Variable());
  REQUIRE(y.grad_fn());
  CHECK(x.data().storage_use_count() == before);

  // With a trainable W the node saves x (dW = dy^T x reads it) until backward has run.
  Variable trainable_w(frozen_w.data(), true);
  Variable y2 = linear(x, trainable_w, Variable());
  CHECK(x.data().storage_use_count() == before + 1);
  sum(y2).backward(/*retain_graph=*/true);  // y's graph shares x's node: keep it walkable
  CHECK(x.data().storage_use_count() == before + 1);
  y2 = Variable();  // dropping the graph frees what it saved
  CHECK(x.data().storage_use_count() == before);
  CHECK(trainable_w.grad().defined());

  // Dropping the activation frees it even while the graph that used it is alive.
  Tensor x_data = x.data();
  x = Variable();
  CHECK(x_data.storage_use_count() == 1);
  sum(y).backward();
  CHECK(h.grad().defined());

  // A backward without retain_graph frees the saved x as it goes, while the graph is still held.
  Variable x3 = mul_scalar(h, 3.0);
  const long before3 = x3.data().storage_use_count();
  Variable y3 = linear(x3, trainable_w, Variable());
  CHECK(x3.data().storage_use_count() == before3 + 1);
  Variable loss3 = sum(y3);
  loss3.backward();
  CHECK(x3.data().storage_use_count() == before3);
}

TEST_CASE("autograd zero_grad") {
  Variable x(from_vector(std::vector<double>{1, 2}), true);
  sum(x * 2.0).backward();
  const Tensor kept = x.grad();
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x * 5.0).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 5});
  CHECK(kept.to_vector<double>() == std::vector<double>{2, 2});  // a fresh gradient, not the old one
}

TEST_CASE("autograd NoGradGuard records nothing") {
  Variable x(from_vector(std::vector<double>{1, 2}), true);
  CHECK(grad_mode_enabled());
  {
    NoGradGuard no_grad;
    CHECK_FALSE(grad_mode_enabled());
    {
      NoGradGuard nested;
      CHECK_FALSE(grad_mode_enabled());
    }
    CHECK_FALSE(grad_mode_enabled());  // the inner guard restores "off", not "on"
    Variable y = exp(x) * x;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    CHECK(mentions(thrown_message([&] { sum(y).backward(); }), {"backward", "does not require grad"}));
  }
  CHECK(grad_mode_enabled());
  CHECK(sum(x * x).requires_grad());
}

TEST_CASE("autograd detach cuts the graph") {
  Variable x(from_vector(std::vector<double>{2, 3}), true);
  Variable d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.data().raw_data() == x.data().raw_data());  // same values, shared
  // y = x * stop_gradient(x): dy/dx = x (one path only), not 2x.
  sum(x * x.detach()).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 3});
  CHECK_FALSE(d.grad().defined());
}

TEST_CASE("autograd diamond graph sums the gradients of every path") {
  Variable x(from_vector(std::vector<double>{0.5, -1.5}), true);
  // Leaf used twice: y = x*x + x, dy/dx = 2x + 1.
  sum(x * x + x).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, -2});
  x.zero_grad();
  // Intermediate used by two consumers at different depths: h = exp(x), y = h*h + h,
  // dy/dx = (2h + 1) h.
  Variable h = exp(x);
  sum(h * h + h).backward();
  for (int64_t i = 0; i < 2; ++i) {
    const double e = std::exp(x.data().at({i}));
    CHECK(x.grad().at({i}) == doctest::Approx((2 * e + 1) * e));
  }
  CHECK_FALSE(h.grad().defined());  // only leaves keep .grad
  check_gradients([](const std::vector<Variable>& in) {
    Variable a = tanh(in[0]), b = a * in[1];
    return sum(b * a + sin(b), {1}) + mean(a);
  }, {random64({3, 4}, 70), random64({4}, 71)});
}

namespace {

// A node that records which inputs the engine says need a gradient, and returns gradients
// only for those (what every real node does with needs_grad).
struct Probe : Node {
  std::vector<bool> asked;
  const char* name() const override { return "probe"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    std::vector<Tensor> grads(num_inputs());
    for (size_t i = 0; i < num_inputs(); ++i) {
      asked.push_back(needs_grad(i));
      if (needs_grad(i)) grads[i] = dy;
    }
    return grads;
  }
};

}  // namespace

TEST_CASE("autograd an input that does not require grad gets no gradient") {
  Variable a(from_vector(std::vector<double>{1, 2}), true);
  Variable frozen(from_vector(std::vector<double>{3, 4}));
  auto probe = std::make_shared<Probe>();
  Variable y = record(add(a.data(), frozen.data()), probe, {a, frozen});
  y.backward(ones({2}, DType::Float64));
  CHECK(probe->asked == std::vector<bool>{true, false});
  CHECK(a.grad().to_vector<double>() == std::vector<double>{1, 1});
  CHECK_FALSE(frozen.grad().defined());

  // Nothing requires grad: no node is recorded at all.
  auto unused = std::make_shared<Probe>();
  Variable z = record(frozen.data(), unused, {frozen});
  CHECK_FALSE(z.requires_grad());
  CHECK(z.grad_fn() == nullptr);
  CHECK(unused->edges.empty());

  // The same through real ops: the frozen factor of mul gets no gradient.
  Variable w(from_vector(std::vector<double>{5, 6}), true);
  sum(w * frozen).backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{3, 4});
  CHECK_FALSE(frozen.grad().defined());
}

TEST_CASE("autograd backward errors") {
  Variable x(from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}), true);
  Variable y = x * 2.0;
  CHECK(mentions(thrown_message([&] { y.backward(); }),
                 {"backward", "without a gradient", "[2, 3]"}));
  CHECK(mentions(thrown_message([&] { y.backward(ones({3}, DType::Float64)); }),
                 {"backward", "[3]", "[2, 3]"}));
  CHECK(mentions(thrown_message([&] { y.backward(ones({2, 3}, DType::Float32)); }),
                 {"backward", "float32", "float64"}));
  CHECK(mentions(thrown_message([] { Variable(zeros({2})).backward(ones({2})); }),
                 {"backward", "does not require grad"}));
  CHECK(mentions(thrown_message([] { Variable(zeros({2}, DType::Int64), true); }),
                 {"Variable", "floating", "int64"}));
  CHECK(mentions(thrown_message([&] { y.set_requires_grad(false); }), {"set_requires_grad", "leaves"}));
  // Backward frees what the nodes saved; walking that graph again says so.
  Variable e = sum(exp(x));
  e.backward();
  CHECK(mentions(thrown_message([&] { e.backward(); }), {"already freed", "retain_graph"}));
}

TEST_CASE("autograd backward from a leaf and with a given gradient") {
  Variable x(from_vector(std::vector<double>{1, 2}), true);
  x.backward(from_vector(std::vector<double>{3, 4}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 4});
  x.zero_grad();
  Variable y = x * x;  // non-scalar output, explicit upstream gradient
  y.backward(from_vector(std::vector<double>{1, 10}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 40});
}

TEST_CASE("autograd bf16: a graph runs forward and backward in bf16, gradients accumulate") {
  // loss = mean(gelu(x x + b) x): x feeds three nodes (their gradients summed by the engine),
  // b is broadcast (its gradient a sum_to). backward() twice: the leaf gradients accumulate
  // (add_ in bf16). Against the same graph in float64 at the same (bf16) values, within the op
  // table's bf16 bound (tests/op_table.h) for the longest sum here, the mean's 20 terms.
  const Tensor x0 = random64({4, 5}, 1).to(DType::BFloat16);
  const Tensor b0 = random64({5}, 2).to(DType::BFloat16);
  auto loss_of = [](const Variable& x, const Variable& b) { return mean(gelu(x * x + b) * x); };
  Variable x(x0, true), b(b0, true);
  Variable loss = loss_of(x, b);
  CHECK(loss.dtype() == DType::BFloat16);
  loss.backward();
  loss_of(x, b).backward();
  Variable x64(x0.to(DType::Float64), true), b64(b0.to(DType::Float64), true);
  Variable loss64 = loss_of(x64, b64);
  loss64.backward();
  loss_of(x64, b64).backward();
  const double rtol = kBf16Slack * kBf16UnitRoundoff * (1 + std::sqrt(20.0));
  CHECK(x.grad().dtype() == DType::BFloat16);
  CHECK(b.grad().dtype() == DType::BFloat16);
  check_tensor("loss", loss.data(), loss64.data(), rtol, 0);
  check_tensor("dx", x.grad(), x64.grad(), rtol, 0);
  check_tensor("db", b.grad(), b64.grad(), rtol, 0);
}

TEST_CASE("autograd deep chain does not overflow the stack") {
  Variable x(full({3}, 0.5, DType::Float64), true);
  Variable h = x;
  for (int i = 0; i < 1000; ++i) h = i % 2 == 0 ? h * 1.001 : h + 0.01;
  sum(h).backward();
  const double want = std::pow(1.001, 500);
  for (int64_t i = 0; i < 3; ++i) CHECK(x.grad().at({i}) == doctest::Approx(want).epsilon(1e-12));
}

TEST_CASE("gradcheck fails a wrong gradient, however small the values") {
  // f(x) = x * detach(x): the autograd gradient is x, the true one 2x.
  auto half = [](const std::vector<Variable>& v) { return mul(v[0], v[0].detach()); };
  // f(x) = 1e-5 * detach(x) + 0 * x: the autograd gradient is 0, the true one 1e-5.
  auto dead = [](const std::vector<Variable>& v) {
    return add(mul_scalar(v[0].detach(), 1e-5), mul_scalar(v[0], 0.0));
  };
  for (double unit : {1.0, 1e-6}) {
    CAPTURE(unit);
    CHECK_FALSE(gradcheck(half, {mul_scalar(random64({3, 4}, 90), unit)}).ok);
  }
  GradcheckResult r = gradcheck(dead, {random64({3, 4}, 91)});
  CHECK_FALSE(r.ok);
  CHECK(r.report.find("FAILED") == 0);
  CHECK(r.report.find("input 0 [3, 4]") != std::string::npos);
  // The right gradients pass at the same sizes.
  CHECK(gradcheck([](const std::vector<Variable>& v) { return mul(v[0], v[0]); },
                  {mul_scalar(random64({3, 4}, 90), 1e-6)})
            .ok);
  CHECK(gradcheck([](const std::vector<Variable>& v) { return mul_scalar(v[0], 1e-5); },
                  {random64({3, 4}, 91)})
            .ok);
}
