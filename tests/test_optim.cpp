// AdamW, learning-rate schedules and gradient clipping against hand-computed steps and
// numbers printed once by PyTorch 1.13 (torch.optim.AdamW, torch.nn.utils.clip_grad_norm_).
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/adamw.h"
#include "tensor/gpu.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "train/optimizer.h"
#include "train/schedule.h"

using namespace neat;

namespace {

Variable leaf(const std::vector<double>& values, Shape shape, DType dtype) {
  return Variable(from_vector(values, shape).to(dtype), /*requires_grad=*/true);
}

void set_grad(Variable& p, const std::vector<double>& values) {
  p.mutable_grad() = from_vector(values, p.shape()).to(p.dtype());
}

void check_values(const Variable& p, const std::vector<double>& want, double tol) {
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(p.data().flat(int64_t(i)) - want[i]) <= tol);
  }
}

// Five steps of two groups (lr 0.01 / wd 0.1 and lr 0.05 / wd 0), gradients varying per step.
// Returns the optimizer so tests can inspect its state.
AdamW run_five_steps(Variable& a, Variable& b) {
  AdamW opt({{"head", {{"a", a}}, 0.01, 0.1}, {"backbone", {{"b", b}}, 0.05, 0.0}});
  for (int t = 1; t <= 5; ++t) {
    set_grad(a, {0.1 * t, -0.2, 0.3 / t});
    set_grad(b, {0.01 * t, -0.5, 2.0, 1e-3 * t * t});
    opt.step();
  }
  return opt;
}

}  // namespace

TEST_CASE("AdamW first step by hand: m_hat = g, v_hat = g^2, so p -= lr g / (|g| + eps)") {
  Variable p = leaf({0.5, -1.0, 2.0}, {3}, DType::Float64);
  AdamW opt({{"all", {{"p", p}}, /*lr=*/0.1, /*weight_decay=*/0.5}});
  set_grad(p, {0.2, -3.0, 1e-9});
  opt.step();
  const double lr = 0.1, wd = 0.5, eps = 1e-8;
  const double g[3] = {0.2, -3.0, 1e-9}, p0[3] = {0.5, -1.0, 2.0};
  for (int i = 0; i < 3; ++i) {
    const double want = p0[i] * (1 - lr * wd) - lr * g[i] / (std::abs(g[i]) + eps);
    CHECK(p.data().flat(i) == doctest::Approx(want).epsilon(1e-13));
  }
}

TEST_CASE("AdamW matches torch.optim.AdamW over five steps with two parameter groups") {
  // torch 1.13: AdamW([{'params':[a],'lr':0.01,'weight_decay':0.1},
  //                    {'params':[b],'lr':0.05,'weight_decay':0.0}]), default betas/eps,
  // grads a: [0.1t, -0.2, 0.3/t], b: [[0.01t, -0.5], [2.0, 1e-3 t^2]], t = 1..5.
  SUBCASE("float64") {
    Variable a = leaf({0.5, -1.0, 2.0}, {3}, DType::Float64);
    Variable b = leaf({0.25, -0.75, 1.5, 0.0}, {2, 2}, DType::Float64);
    run_five_steps(a, b);
    check_values(a, {0.4490943092711583, -0.9451098925499941, 1.946098917407737}, 1e-14);
    check_values(b, {0.007458587174638223, -0.5000000050000007, 1.2500000012500005,
                     -0.22466800836818956}, 1e-14);
  }
  SUBCASE("float32") {
    Variable a = leaf({0.5, -1.0, 2.0}, {3}, DType::Float32);
    Variable b = leaf({0.25, -0.75, 1.5, 0.0}, {2, 2}, DType::Float32);
    run_five_steps(a, b);
    // A few float32 ulps: the compiler may fuse multiply-adds that PyTorch rounds twice.
    check_values(a, {0.44909435510635376, -0.945110023021698, 1.946099042892456}, 5e-7);
    check_values(b, {0.007458582520484924, -0.4999999403953552, 1.250000238418579,
                     -0.2246680110692978}, 5e-7);
  }
}

TEST_CASE("adamw_step_, the raw op under AdamW, matches torch.optim.AdamW by itself") {
  // The float64 case above for parameter a alone: lr 0.01, weight_decay 0.1, grads [0.1t, -0.2, 0.3/t].
  Tensor p = from_vector(std::vector<double>{0.5, -1.0, 2.0});
  Tensor m = zeros({3}, DType::Float64), v = zeros({3}, DType::Float64);
  for (int t = 1; t <= 5; ++t) {
    const Tensor g = from_vector(std::vector<double>{0.1 * t, -0.2, 0.3 / t});
    adamw_step_({{"a", p, g, m, v, t, 0.01, 0.1}}, {0.9, 0.999, 1e-8});
  }
  const std::vector<double> want = {0.4490943092711583, -0.9451098925499941, 1.946098917407737};
  for (int64_t i = 0; i < 3; ++i) CHECK(std::abs(p.flat(i) - want[size_t(i)]) <= 1e-14);
  // A mismatched gradient is named, and nothing is updated.
  const Tensor q = ones({2});
  CHECK_THROWS_WITH_AS(adamw_step_({{"q", q, ones({2}), zeros({2}), zeros({2}), 1, 0.1, 0.0},
                                    {"w", ones({3}), ones({2}), zeros({3}), zeros({3}), 1, 0.1, 0.0}},
                                   {}),
                       doctest::Contains("adamw_step_: gradient of 'w' is [2] float32, parameter is [3] float32"),
                       std::runtime_error);
  CHECK(q.flat(0) == 1.0);
}

TEST_CASE("adamw_step_ over parameters of two dtypes: one call per run, each as if alone") {
  // float32, float64, float32: three runs of one kernel call each; every parameter must end as
  // it would after a step of its own.
  Generator gen(37);
  std::vector<AdamWParameter> together, alone;
  for (DType dt : {DType::Float32, DType::Float64, DType::Float32})
    for (int64_t k = 0; k < 2; ++k) {
      const Tensor p = randn({5 + k}, gen, dt), g = randn({5 + k}, gen, dt);
      const Tensor m = randn({5 + k}, gen, dt), v = rand({5 + k}, gen, dt);
      together.push_back({"p", p.clone(), g, m.clone(), v.clone(), 2 + k, 0.01, 0.1});
      alone.push_back({"p", p.clone(), g, m.clone(), v.clone(), 2 + k, 0.01, 0.1});
    }
  adamw_step_(together, {0.9, 0.999, 1e-8});
  for (size_t i = 0; i < alone.size(); ++i) {
    adamw_step_({alone[i]}, {0.9, 0.999, 1e-8});
    CHECK(together[i].param.to_vector<double>() == alone[i].param.to_vector<double>());
    CHECK(together[i].exp_avg_sq.to_vector<double>() == alone[i].exp_avg_sq.to_vector<double>());
  }
}

TEST_CASE("cuda: adamw_step_ over 300 parameters (one launch, its table in device memory) equals the CPU's") {
  if (!cuda_available()) return neat::test::skip(cuda_unavailable_reason());
  // Sizes from 0 to ~9000 (several 4096-element chunks, most not whole), steps, learning
  // rates and weight decays varying per parameter.
  Generator gen(41);
  for (DType dt : {DType::Float32, DType::Float64}) {
    std::vector<AdamWParameter> cpu, gpu;
    for (int64_t k = 0; k < 300; ++k) {
      const int64_t n = k == 3 ? 0 : (k * 1237) % 9001 + 1;
      const Tensor p = randn({n}, gen, dt), g = randn({n}, gen, dt);
      const Tensor m = randn({n}, gen, dt), v = rand({n}, gen, dt);
      const int64_t step = 1 + k % 3;
      const double lr = 1e-3 * double(1 + k % 4), wd = 0.01 * double(k % 3);
      cpu.push_back({"p", p, g, m, v, step, lr, wd});
      gpu.push_back({"p", p.to(Device::CUDA), g.to(Device::CUDA), m.to(Device::CUDA),
                     v.to(Device::CUDA), step, lr, wd});
    }
    adamw_step_(cpu, {0.9, 0.999, 1e-8});
    adamw_step_(gpu, {0.9, 0.999, 1e-8});
    const double tol = dt == DType::Float32 ? 1e-6 : 1e-14;
    for (size_t k = 0; k < cpu.size(); ++k) {
      CAPTURE(k);
      for (auto [got, want] : {std::pair{gpu[k].param, cpu[k].param},
                               std::pair{gpu[k].exp_avg, cpu[k].exp_avg},
                               std::pair{gpu[k].exp_avg_sq, cpu[k].exp_avg_sq}})
        CHECK(neat::test::max_abs_diff(got.to(Device::CPU), want) <= tol * neat::test::max_abs(want));
    }
  }
}

TEST_CASE("AdamW state lives on the parameter's device and dtype") {
  Variable a = leaf({1.0, 2.0}, {2}, DType::Float64);
  AdamW opt({{"g", {{"a", a}}, 0.1, 0.0}});
  set_grad(a, {1.0, -1.0});
  opt.step();
  for (const char* key : {"a.exp_avg", "a.exp_avg_sq"}) {
    const Tensor s = opt.state_dict().at(key);
    CHECK(s.dtype() == DType::Float64);
    CHECK(s.device() == a.data().device());
  }
}

TEST_CASE("AdamW skips parameters without a gradient and zero_grad drops gradients") {
  Variable a = leaf({1.0, 2.0}, {2}, DType::Float32);
  Variable b = leaf({3.0}, {1}, DType::Float32);
  AdamW opt({{"g", {{"a", a}, {"b", b}}, 0.1, 0.1}});
  set_grad(a, {1.0, 1.0});
  opt.step();
  CHECK(b.data().flat(0) == 3.0);   // no grad: not even weight decay touches it
  CHECK(a.data().flat(0) != 1.0);
  CHECK(opt.state_dict().count("b.exp_avg") == 0);
  CHECK(opt.state_dict().at("a.step").flat(0) == 1);
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("AdamW state_dict round-trips: a restored optimizer continues bit for bit") {
  Variable a1 = leaf({0.5, -1.0, 2.0}, {3}, DType::Float32);
  Variable b1 = leaf({0.25, -0.75, 1.5, 0.0}, {2, 2}, DType::Float32);
  AdamW first = run_five_steps(a1, b1);

  Variable a2(a1.data().clone(), true), b2(b1.data().clone(), true);
  AdamW second({{"head", {{"a", a2}}, 0.01, 0.1}, {"backbone", {{"b", b2}}, 0.05, 0.0}});
  second.load_state_dict(first.state_dict());
  auto one_more_step = [](AdamW& opt, Variable& a, Variable& b) {
    set_grad(a, {0.7, 0.1, -0.3});
    set_grad(b, {1.0, 2.0, 3.0, 4.0});
    opt.step();
  };
  one_more_step(first, a1, b1);
  one_more_step(second, a2, b2);
  for (int64_t i = 0; i < 3; ++i) CHECK(a1.data().flat(i) == a2.data().flat(i));
  for (int64_t i = 0; i < 4; ++i) CHECK(b1.data().flat(i) == b2.data().flat(i));

  std::map<std::string, Tensor> bad = first.state_dict();
  bad["a.exp_avg"] = zeros({4});
  CHECK_THROWS_WITH_AS(second.load_state_dict(bad),
                       doctest::Contains("'a.exp_avg' has shape [4], parameter has [3]"),
                       std::runtime_error);
  bad = first.state_dict();
  bad["nope.step"] = from_vector(std::vector<int64_t>{1});
  CHECK_THROWS_WITH_AS(second.load_state_dict(bad), doctest::Contains("unknown parameter 'nope'"),
                       std::runtime_error);
  // A step that is no step count: out of int64's range (found by fuzz/checkpoint.cpp: 6.6e180,
  // whose conversion was undefined behaviour), NaN, a fraction, zero.
  for (double step : {6.58231e180, std::nan(""), 2.5, 0.0, -3.0}) {
    CAPTURE(step);
    bad = first.state_dict();
    bad["a.step"] = from_vector(std::vector<double>{step});
    CHECK_THROWS_WITH_AS(second.load_state_dict(bad), doctest::Contains("not a step count"),
                         std::runtime_error);
  }
}

TEST_CASE("set_lr_multiplier scales each group's base lr") {
  Variable a = leaf({1.0}, {1}, DType::Float32), b = leaf({1.0}, {1}, DType::Float32);
  AdamW opt({{"head", {{"a", a}}, 0.02, 0.0}, {"backbone", {{"b", b}}, 0.004, 0.0}});
  opt.set_lr_multiplier(0.25);
  CHECK(opt.groups()[0].lr == doctest::Approx(0.005));
  CHECK(opt.groups()[1].lr == doctest::Approx(0.001));
  CHECK(opt.groups()[1].base_lr == doctest::Approx(0.004));
}

TEST_CASE("clip_grad_norm matches torch.nn.utils.clip_grad_norm_") {
  // torch: grads [3, -4, 1] and [[2, 0.5], [-1, 0]], max_norm 2 -> total norm 5.590169906616211.
  Variable x = leaf({0, 0, 0}, {3}, DType::Float32);
  Variable y = leaf({0, 0, 0, 0}, {2, 2}, DType::Float32);
  Variable unused = leaf({0}, {1}, DType::Float32);
  set_grad(x, {3.0, -4.0, 1.0});
  set_grad(y, {2.0, 0.5, -1.0, 0.0});
  const double norm = clip_grad_norm({x, y, unused}, 2.0).item();
  CHECK(norm == doctest::Approx(5.590169906616211).epsilon(1e-7));
  check_values(x, {0, 0, 0}, 0);   // values untouched; grads scaled:
  const std::vector<double> gx = {1.073312520980835, -1.43108332157135, 0.3577708303928375};
  const std::vector<double> gy = {0.715541660785675, 0.17888541519641876, -0.3577708303928375, 0.0};
  for (int64_t i = 0; i < 3; ++i) CHECK(std::abs(x.grad().flat(i) - gx[size_t(i)]) < 1e-6);
  for (int64_t i = 0; i < 4; ++i) CHECK(std::abs(y.grad().flat(i) - gy[size_t(i)]) < 1e-6);
  // Below the threshold nothing changes.
  const double small = clip_grad_norm({x, y}, 100.0).item();
  CHECK(small == doctest::Approx(2.0).epsilon(1e-5));
  CHECK(x.grad().flat(0) == doctest::Approx(gx[0]).epsilon(1e-7));
}

TEST_CASE("schedules match Hugging Face's *_schedule_with_warmup") {
  CHECK(warmup_steps(1000, 0.1) == 100);
  CHECK(warmup_steps(15, 0.1) == 2);   // ceil(1.5)
  CHECK(warmup_steps(15, 0.0) == 0);
  LrSchedule linear{Schedule::Linear, 1000, 100};
  CHECK(linear.multiplier(0) == 0.0);
  CHECK(linear.multiplier(50) == doctest::Approx(0.5));
  CHECK(linear.multiplier(100) == doctest::Approx(1.0));
  CHECK(linear.multiplier(550) == doctest::Approx(0.5));
  CHECK(linear.multiplier(1000) == 0.0);
  CHECK(linear.multiplier(1200) == 0.0);
  LrSchedule cosine{Schedule::Cosine, 1000, 100};
  CHECK(cosine.multiplier(25) == doctest::Approx(0.25));
  CHECK(cosine.multiplier(100) == doctest::Approx(1.0));
  CHECK(cosine.multiplier(550) == doctest::Approx(0.5));
  CHECK(cosine.multiplier(325) == doctest::Approx(0.5 * (1 + std::cos(M_PI * 0.25))));
  CHECK(cosine.multiplier(1000) == doctest::Approx(0.0));
  LrSchedule constant{Schedule::Constant, 1000, 10};
  CHECK(constant.multiplier(5) == doctest::Approx(0.5));
  CHECK(constant.multiplier(999) == 1.0);
  LrSchedule no_warmup{Schedule::Linear, 4, 0};
  CHECK(no_warmup.multiplier(0) == 1.0);
  CHECK(no_warmup.multiplier(3) == doctest::Approx(0.25));
  CHECK(parse_schedule("cosine") == Schedule::Cosine);
  CHECK_THROWS_WITH_AS(parse_schedule("step"), doctest::Contains("unknown 'step'"),
                       std::runtime_error);
}
