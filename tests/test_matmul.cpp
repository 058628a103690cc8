// matmul and linear: forward values against a naive float64 loop, gradient checks for every
// transpose and batch-broadcast case, the error messages, and the proof that a frozen weight
// costs no weight-gradient GEMM.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "autograd/gradcheck.h"
#include "tests/op_test_util.h"
#include "autograd/matmul.h"
#include "tensor/cpu/gemm.h"
#include "tensor/matmul.h"

using namespace neat;
using neat::test::thrown_message;

namespace {

// The shape an operand is stored in, for a logical [rows, cols] operand (transposed: swapped).
Shape stored(Shape batch, int64_t rows, int64_t cols, bool trans) {
  batch.push_back(trans ? cols : rows);
  batch.push_back(trans ? rows : cols);
  return batch;
}

// Element (i, j) of op(x)'s matrix number `m`, reading x stored row-major.
double op_at(const Tensor& x, int64_t m, int64_t i, int64_t j, bool trans) {
  const int64_t r = x.size(-2), c = x.size(-1);
  return trans ? x.flat(m * r * c + j * c + i) : x.flat(m * r * c + i * c + j);
}

// Batch dims [..a] and [..b] broadcast; returns the matrix index of a or b for output batch t.
int64_t source_matrix(const Shape& out_batch, const Shape& batch, int64_t t) {
  int64_t index = 0, step = 1;
  for (int64_t d = int64_t(out_batch.size()) - 1; d >= 0; --d) {
    const int64_t digit = t % out_batch[size_t(d)];
    t /= out_batch[size_t(d)];
    const int64_t k = d - int64_t(out_batch.size() - batch.size());
    if (k < 0) continue;
    if (batch[size_t(k)] != 1) index += digit * step;
    step *= batch[size_t(k)];
  }
  return index;
}

// Checks matmul(a, b, ta, tb) element by element against a float64 triple loop.
void check_against_loops(const Tensor& a, const Tensor& b, bool ta, bool tb, double tol) {
  Tensor c = matmul(a, b, ta, tb);
  const Shape a_batch(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  const Shape out_batch(c.shape().begin(), c.shape().end() - 2);
  const int64_t M = c.size(-2), N = c.size(-1), K = ta ? a.size(-2) : a.size(-1);
  double worst = 0;
  for (int64_t t = 0; t < shape_numel(out_batch); ++t) {
    const int64_t ma = source_matrix(out_batch, a_batch, t), mb = source_matrix(out_batch, b_batch, t);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double want = 0;
        for (int64_t p = 0; p < K; ++p) want += op_at(a, ma, i, p, ta) * op_at(b, mb, p, j, tb);
        worst = std::max(worst, std::abs(c.flat((t * M + i) * N + j) - want));
      }
  }
  INFO("a ", shape_str(a.shape()), " trans ", ta, " x b ", shape_str(b.shape()), " trans ", tb);
  CHECK(worst <= tol);
}

}  // namespace

TEST_CASE("matmul forward matches hand-computed numbers and a float64 loop") {
  // [[1, 2, 3], [4, 5, 6]] x [[1, 0], [0, 1], [1, 1]] = [[4, 5], [10, 11]]
  Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector(std::vector<float>{1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor c = matmul(a, b);
  CHECK(c.shape() == Shape{2, 2});
  CHECK(c.to_vector<float>() == std::vector<float>{4, 5, 10, 11});

  Generator gen(3);
  for (DType dt : {DType::Float32, DType::Float64}) {
    const double tol = dt == DType::Float32 ? 1e-4 : 1e-12;
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check_against_loops(randn(stored({}, 7, 13, ta), gen, dt), randn(stored({}, 13, 1, tb), gen, dt), ta, tb, tol);
        check_against_loops(randn(stored({2, 1, 3}, 3, 4, ta), gen, dt),
                            randn(stored({5, 1}, 4, 6, tb), gen, dt), ta, tb, tol);
        check_against_loops(randn(stored({2, 3}, 7, 5, ta), gen, dt), randn(stored({}, 5, 4, tb), gen, dt), ta, tb, tol);
        check_against_loops(randn(stored({}, 3, 4, ta), gen, dt), randn(stored({2}, 4, 5, tb), gen, dt), ta, tb, tol);
        check_against_loops(randn(stored({3}, 3, 4, ta), gen, dt), randn(stored({1, 1}, 4, 5, tb), gen, dt), ta, tb, tol);
      }
  }
  // Many small products (spread over threads) and one larger one (threads inside the GEMM).
  check_against_loops(randn({24, 9, 8}, gen), randn({24, 8, 9}, gen), false, false, 1e-4);
  check_against_loops(randn({2, 130, 129}, gen), randn({2, 131, 129}, gen), false, true, 1e-3);
  CHECK(matmul(randn({2, 1, 3, 4}, gen), randn({5, 4, 6}, gen)).shape() == Shape{2, 5, 3, 6});
  CHECK(matmul(randn({3, 4, 5}, gen), randn({1, 1, 5, 2}, gen)).shape() == Shape{1, 3, 4, 2});
  CHECK(matmul(zeros({2, 0}), zeros({0, 3})).to_vector<float>() == std::vector<float>(6, 0.0f));
}

TEST_CASE("gradcheck matmul") {
  Generator gen(5);
  auto check = [&](Shape a, Shape b, bool ta, bool tb) {
    auto f = [ta, tb](const std::vector<Variable>& in) { return matmul(in[0], in[1], ta, tb); };
    GradcheckResult r = gradcheck(f, {randn(a, gen, DType::Float64), randn(b, gen, DType::Float64)});
    INFO(shape_str(a), (ta ? "^T" : ""), " x ", shape_str(b), (tb ? "^T" : ""));
    CHECK_MESSAGE(r.ok, r.report);
  };
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check(stored({}, 7, 13, ta), stored({}, 13, 1, tb), ta, tb);         // 2-D, odd sizes
      check(stored({}, 1, 7, ta), stored({}, 7, 13, tb), ta, tb);
      check(stored({2, 1}, 3, 4, ta), stored({5}, 4, 6, tb), ta, tb);       // [2,1,3,4] x [5,4,6]
      check(stored({2, 3}, 7, 5, ta), stored({}, 5, 4, tb), ta, tb);       // 2-D weight, batched x
      check(stored({}, 3, 4, ta), stored({2}, 4, 5, tb), ta, tb);          // 2-D a, batched b
      check(stored({3}, 2, 4, ta), stored({1, 1}, 4, 5, tb), ta, tb);      // b's batch all 1
    }
}

TEST_CASE("matmul errors name the op and both shapes") {
  CHECK(thrown_message([] { matmul(zeros({2, 3}), zeros({4, 5})); })
            .find("matmul: [2, 3] x [4, 5]: inner dimensions 3 and 4 differ") == 0);
  CHECK(thrown_message([] { matmul(zeros({2, 3}), zeros({5, 4}), false, true); })
            .find("matmul: [2, 3] x [5, 4]^T: inner dimensions 3 and 4 differ") == 0);
  CHECK(thrown_message([] { matmul(zeros({2, 3, 4}), zeros({5, 4, 6})); })
            .find("matmul: [2, 3, 4] x [5, 4, 6]: batch dims [2] and [5] do not broadcast") == 0);
  CHECK(thrown_message([] { matmul(zeros({3}), zeros({3, 2})); }).find("at least 2 dims") != std::string::npos);
  const std::string dtype = thrown_message([] { matmul(zeros({2, 3}), zeros({3, 2}, DType::Float64)); });
  CHECK(dtype.find("matmul") == 0);
  CHECK(dtype.find("[2, 3]") != std::string::npos);
  CHECK(dtype.find("[3, 2]") != std::string::npos);
  CHECK(thrown_message([] { linear(Variable(zeros({4, 3})), Variable(zeros({2, 5})), Variable()); })
            .find("linear: input [4, 3] and weight [2, 5]: in_features 3 and 5 differ") == 0);
  CHECK(thrown_message([] { linear(Variable(zeros({4, 3})), Variable(zeros({2, 3})), Variable(zeros({3}))); })
            .find("linear: bias [3] does not match weight [2, 3]") == 0);
}

TEST_CASE("gradcheck linear") {
  Generator gen(6);
  auto with_bias = [](const std::vector<Variable>& in) { return linear(in[0], in[1], in[2]); };
  auto no_bias = [](const std::vector<Variable>& in) { return linear(in[0], in[1], Variable()); };
  const DType f64 = DType::Float64;
  GradcheckResult r = gradcheck(with_bias, {randn({2, 3, 5}, gen, f64), randn({4, 5}, gen, f64),
                                            randn({4}, gen, f64)});
  CHECK_MESSAGE(r.ok, r.report);
  r = gradcheck(no_bias, {randn({7, 13}, gen, f64), randn({1, 13}, gen, f64)});
  CHECK_MESSAGE(r.ok, r.report);
  r = gradcheck(with_bias, {randn({5}, gen, f64), randn({3, 5}, gen, f64), randn({3}, gen, f64)});
  CHECK_MESSAGE(r.ok, r.report);

  // Forward: y = x W^T + b by hand. x = [1, 2], W = [[1, 0], [2, -1], [0, 3]], b = [0.5, 0, -1]
  Variable y = linear(Variable(from_vector(std::vector<float>{1, 2}, {1, 2})),
                      Variable(from_vector(std::vector<float>{1, 0, 2, -1, 0, 3}, {3, 2})),
                      Variable(from_vector(std::vector<float>{0.5f, 0, -1})));
  CHECK(y.shape() == Shape{1, 3});
  CHECK(y.data().to_vector<float>() == std::vector<float>{1.5f, 0, 5});
}

TEST_CASE("linear backward runs only the GEMMs whose gradients are needed") {
  Generator gen(7);
  Tensor x = randn({2, 5, 6}, gen), w = randn({4, 6}, gen), b = randn({4}, gen);
  // Runs forward + backward and returns how many GEMMs the backward ran.
  auto backward_gemms = [&](bool x_grad, bool w_grad, bool b_grad) {
    Variable xv(x, x_grad), wv(w, w_grad), bv(b, b_grad);
    Variable y = linear(xv, wv, bv);
    const int64_t before = gemm_call_count();
    y.backward(ones(y.shape()));
    CHECK(xv.grad().defined() == x_grad);
    CHECK(wv.grad().defined() == w_grad);
    CHECK(bv.grad().defined() == b_grad);
    return gemm_call_count() - before;
  };
  CHECK(backward_gemms(true, false, false) == 1);  // frozen weight: no dW GEMM
  CHECK(backward_gemms(true, false, true) == 1);   // a bias gradient is a sum, not a GEMM
  CHECK(backward_gemms(true, true, true) == 2);
  CHECK(backward_gemms(false, true, false) == 1);
  // matmul with a 2-D weight and a batched input: one folded GEMM per needed gradient.
  for (bool w_grad : {false, true}) {
    Variable xv(x, true), wv(w, w_grad);
    Variable y = matmul(xv, wv, false, true);
    const int64_t before = gemm_call_count();
    y.backward(ones(y.shape()));
    CHECK(gemm_call_count() - before == (w_grad ? 2 : 1));
  }
}
