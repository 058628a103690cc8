// matmul and linear: float32 and float64 forward values against a naive float64 loop on
// threaded and large shapes, the error messages, and the proof that a frozen weight costs no
// weight-gradient GEMM. Gradients of every transpose and batch-broadcast case: the op table
// (tests/test_ops.cpp).
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "tests/op_references.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "autograd/matmul.h"
#include "tensor/cpu/gemm.h"
#include "tensor/elementwise.h"
#include "tensor/gpu.h"
#include "tensor/matmul.h"

using namespace neat;
using neat::test::skip;
using neat::test::max_abs;
using neat::test::max_abs_diff;
using neat::test::thrown_message;

namespace {

// The shape an operand is stored in, for a logical [rows, cols] operand (transposed: swapped).
Shape stored(Shape batch, int64_t rows, int64_t cols, bool trans) {
  batch.push_back(trans ? cols : rows);
  batch.push_back(trans ? rows : cols);
  return batch;
}

// Checks matmul(a, b, ta, tb) element by element against a float64 triple loop.
void check_against_loops(const Tensor& a, const Tensor& b, bool ta, bool tb, double tol) {
  INFO("a ", shape_str(a.shape()), " trans ", ta, " x b ", shape_str(b.shape()), " trans ", tb);
  const Tensor want = neat::test::matmul_loop(a.to(DType::Float64), b.to(DType::Float64), ta, tb);
  CHECK(neat::test::max_abs_diff(matmul(a, b, ta, tb), want) <= tol);
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

TEST_CASE("tensor/matmul.h usage example") {
  Generator gen(19);
  const Tensor x = randn({4, 3}, gen, DType::Float64), w = randn({5, 3}, gen, DType::Float64);
  const Tensor z = randn({4, 2}, gen, DType::Float64), v = randn({5, 2}, gen, DType::Float64);
  Tensor y = matmul(x, w, false, /*trans_b=*/true);             // y = x w^T
  Tensor want = y.clone();
  axpy_(want, 0.5, matmul(z, v, false, true));
  matmul_into(y, z, v, false, /*trans_b=*/true, 0.5, 1.0);       // y += 0.5 z v^T, no temporary
  CHECK(neat::test::max_abs_diff(y, want) <= 1e-15 * neat::test::max_abs(want));
}

TEST_CASE("matmul_into: c = alpha op(a) op(b) + beta c, every transpose, beta 0 and 1") {
  // Against matmul then axpy_ in float64, on odd sizes and the batch cases of matmul: plain,
  // a's batch folded into M, both batched, and batch dims broadcast.
  Generator gen(17);
  const double alpha = -0.75;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (double beta : {0.0, 1.0})
        for (const auto& [a_batch, b_batch] : std::vector<std::pair<Shape, Shape>>{
                 {{}, {}}, {{3}, {}}, {{2}, {2}}, {{2, 1}, {3}}}) {
          const Tensor a = randn(stored(a_batch, 7, 9, ta), gen, DType::Float64);
          const Tensor b = randn(stored(b_batch, 9, 5, tb), gen, DType::Float64);
          const Tensor product = matmul(a, b, ta, tb);
          // beta = 0 must not read c: NaNs there would survive a multiply by 0.
          const Tensor c = beta == 0.0 ? full(product.shape(), std::nan(""), DType::Float64)
                                       : randn(product.shape(), gen, DType::Float64);
          Tensor want = beta == 0.0 ? zeros(product.shape(), DType::Float64) : c.clone();
          axpy_(want, alpha, product);
          matmul_into(c, a, b, ta, tb, alpha, beta);
          INFO("a ", shape_str(a.shape()), " trans ", ta, " x b ", shape_str(b.shape()), " trans ",
               tb, " beta ", beta);
          CHECK(neat::test::max_abs_diff(c, want) <= 1e-14 * neat::test::max_abs(want));
          int64_t not_finite = 0;   // max_abs_diff's fmax would skip a NaN
          for (double v : c.to_vector<double>()) not_finite += !std::isfinite(v);
          CHECK(not_finite == 0);
        }
}

TEST_CASE("cuda: matmul_into equals the CPU's (folded, strided-batched, per-entry batches)") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  // The batch cases reach cuBLAS as: {} and {3} x {} one GEMM (folded unless trans_a, then a
  // strided batch with b's stride 0), {2} x {2} a strided batch, {2, 1} x {3} one call each.
  Generator gen(29);
  for (DType dt : {DType::Float32, DType::Float64})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (double beta : {0.0, 1.0})
          for (const auto& [a_batch, b_batch] : std::vector<std::pair<Shape, Shape>>{
                   {{}, {}}, {{3}, {}}, {{2}, {2}}, {{2, 1}, {3}}}) {
            const Tensor a = randn(stored(a_batch, 7, 9, ta), gen, dt);
            const Tensor b = randn(stored(b_batch, 9, 5, tb), gen, dt);
            const Tensor want = randn(matmul(a, b, ta, tb).shape(), gen, dt);
            const Tensor got = want.to(Device::CUDA);
            matmul_into(want, a, b, ta, tb, -0.75, beta);
            matmul_into(got, a.to(Device::CUDA), b.to(Device::CUDA), ta, tb, -0.75, beta);
            INFO(dtype_name(dt), " a ", shape_str(a.shape()), " trans ", ta, " x b ",
                 shape_str(b.shape()), " trans ", tb, " beta ", beta);
            CHECK(neat::test::max_abs_diff(got.to(Device::CPU), want) <=
                  (dt == DType::Float32 ? 1e-5 : 1e-13) * neat::test::max_abs(want));
          }
}

TEST_CASE("matmul_into errors name the output and both operands") {
  CHECK(thrown_message([] { matmul_into(zeros({2, 2}), zeros({2, 3}), zeros({3, 4}), false, false, 1, 0); })
            .find("matmul_into: output [2, 2] but [2, 3] x [3, 4] is [2, 4]") == 0);
  CHECK(thrown_message([] { matmul_into(zeros({2, 4}), zeros({3, 2}), zeros({3, 4}), false, false, 1, 0); })
            .find("matmul_into: [3, 2] x [3, 4]: inner dimensions 2 and 3 differ") == 0);
  const Tensor a = zeros({2, 2});
  CHECK(thrown_message([&] { matmul_into(a, a, zeros({2, 2}), true, false, 1, 1); })
            .find("matmul_into: output [2, 2] shares memory with an operand ([2, 2]^T x [2, 2])") == 0);
  const std::string dtype = thrown_message([] {
    matmul_into(zeros({2, 2}, DType::Float64), zeros({2, 3}), zeros({3, 2}), false, false, 1, 0);
  });
  CHECK(dtype.find("matmul_into: dtype mismatch") == 0);
}

namespace {

// The products matmul_sum's tests run: every transpose of either product, with and without a
// bias, in float64 (row-major operands stored transposed where the flag is set).
struct SumCase {
  bool ta, tb, ta2, tb2;
  Tensor a, b, a2, b2, bias;
};

std::vector<SumCase> sum_cases() {
  Generator gen(31);
  auto stored = [&](int64_t rows, int64_t cols, bool trans) {
    return randn(trans ? Shape{cols, rows} : Shape{rows, cols}, gen, DType::Float64);
  };
  std::vector<SumCase> cases;
  for (int flags = 0; flags < 16; ++flags)
    for (bool with_bias : {false, true}) {
      const bool ta = flags & 1, tb = flags & 2, ta2 = flags & 4, tb2 = flags & 8;
      cases.push_back({ta, tb, ta2, tb2, stored(37, 50, ta), stored(50, 45, tb),
                       stored(37, 6, ta2), stored(6, 45, tb2),
                       with_bias ? randn({45}, gen, DType::Float64) : Tensor()});
    }
  return cases;
}

}  // namespace

// matmul_sum against its composition (both orders of summation agree to rounding), and its
// errors, which name the op and every operand.
TEST_CASE("matmul_sum is op(a) op(b) + scale op(a2) op(b2) + bias") {
  for (const SumCase& c : sum_cases()) {
    Tensor want = matmul(c.a, c.b, c.ta, c.tb);
    matmul_into(want, c.a2, c.b2, c.ta2, c.tb2, -0.5, 1.0);
    if (c.bias.defined()) want = add(want, c.bias);
    const Tensor got = matmul_sum(c.a, c.b, c.ta, c.tb, c.a2, c.b2, c.ta2, c.tb2, -0.5, c.bias);
    INFO("trans ", c.ta, c.tb, " second ", c.ta2, c.tb2, " bias ", c.bias.defined());
    CHECK(neat::test::max_abs_diff(got, want) <= 1e-13 * neat::test::max_abs(want));
  }
  CHECK(thrown_message([] {
          matmul_sum(zeros({2, 3}), zeros({3, 4}), false, false, zeros({2, 5}), zeros({6, 4}),
                     false, false, 1.0);
        }).find("matmul_sum: [2, 3] x [3, 4] + [2, 5] x [6, 4]: inner dimensions") == 0);
  CHECK(thrown_message([] {
          matmul_sum(zeros({2, 3}), zeros({3, 4}), false, false, zeros({2, 5}), zeros({5, 4}),
                     false, false, 1.0, zeros({3}));
        }).find("matmul_sum: bias [3] is not [N] = [4]") == 0);
  CHECK(thrown_message([] {
          matmul_sum(zeros({2, 3}), zeros({3}), false, false, zeros({2, 5}), zeros({5, 4}),
                     false, false, 1.0);
        }).find("matmul_sum: operands must be 2-D") == 0);
}

TEST_CASE("cuda: matmul_sum equals the CPU's") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  auto cuda = [](const Tensor& t) { return t.defined() ? t.to(Device::CUDA) : t; };
  for (const SumCase& c : sum_cases()) {
    const Tensor want = matmul_sum(c.a, c.b, c.ta, c.tb, c.a2, c.b2, c.ta2, c.tb2, -0.5, c.bias);
    const Tensor got = matmul_sum(cuda(c.a), cuda(c.b), c.ta, c.tb, cuda(c.a2), cuda(c.b2), c.ta2,
                                  c.tb2, -0.5, cuda(c.bias));
    INFO("trans ", c.ta, c.tb, " second ", c.ta2, c.tb2, " bias ", c.bias.defined());
    CHECK(neat::test::max_abs_diff(got.to(Device::CPU), want) <=
          1e-13 * neat::test::max_abs(want));
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

TEST_CASE("linear_weight_grad is matmul(dy, x, true, false) and sum_to(dy, {OUT}), bit for bit") {
  Generator gen(11);
  for (DType dt : {DType::Float32, DType::Float64, DType::BFloat16}) {
    INFO(dtype_name(dt));
    const Tensor dy = randn({37, 12}, gen).to(dt), x = randn({37, 9}, gen).to(dt);
    Tensor db;
    const Tensor dw = linear_weight_grad(dy, x, &db);
    CHECK(max_abs_diff(dw, matmul(dy, x, true, false)) == 0.0);
    CHECK(max_abs_diff(db, sum_to(dy, {12})) == 0.0);
    CHECK(max_abs_diff(linear_weight_grad(dy, x), dw) == 0.0);
  }
  CHECK(thrown_message([] { linear_weight_grad(zeros({4, 3}), zeros({5, 2})); })
            .find("linear_weight_grad: dy [4, 3] and x [5, 2] are not [rows, OUT] and [rows, IN]") ==
        0);
}

TEST_CASE("cuda: linear, linear_add, linear_gelu and their gradients equal the CPU's (cuBLASLt)") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  // The epilogue GEMMs of tensor/cuda/cublaslt.cuh (bias, residual as C, the bias gradient in
  // dW's GEMM) at 16-byte rows and at odd sizes, or their cuBLAS fallback where cuBLASLt has no
  // kernel; bf16 linear_gelu keeps its float32 scratch.
  Generator gen(23);
  for (DType dt : {DType::Float64, DType::Float32, DType::BFloat16})
    for (const auto& [rows, in, out] : std::vector<std::array<int64_t, 3>>{{96, 64, 48}, {7, 13, 5}})
      for (int kind = 0; kind < 3; ++kind) {   // linear, linear_add, linear_gelu
        INFO(dtype_name(dt), " rows ", rows, " in ", in, " out ", out, " kind ", kind);
        const Tensor x = randn({rows, in}, gen).to(dt), w = randn({out, in}, gen).to(dt);
        const Tensor b = randn({out}, gen).to(dt), r = randn({rows, out}, gen).to(dt);
        const Tensor dy = randn({rows, out}, gen).to(dt);
        auto run = [&](Device device) {
          Variable vx(x.to(device), true), vw(w.to(device), true), vb(b.to(device), true);
          Variable vr(r.to(device), true);
          Variable y = kind == 0   ? linear(vx, vw, vb)
                       : kind == 1 ? linear_add(vx, vw, vb, vr)
                                   : linear_gelu(vx, vw, vb);
          y.backward(dy.to(device));
          std::vector<Tensor> got = {y.data(), vx.grad(), vw.grad(), vb.grad()};
          if (kind == 1) got.push_back(vr.grad());
          for (Tensor& t : got) t = t.to(Device::CPU).to(DType::Float64);
          return got;
        };
        const std::vector<Tensor> want = run(Device::CPU), got = run(Device::CUDA);
        // float32 with TF32 off; bf16: a few ulps of the largest value (2^-8 relative each).
        const double tol = dt == DType::Float64 ? 1e-12 : dt == DType::Float32 ? 1e-5 : 1.6e-2;
        for (size_t i = 0; i < want.size(); ++i) {
          INFO("tensor ", i, " (y, dx, dW, db, dr)");
          CHECK(max_abs_diff(got[i], want[i]) <= tol * max_abs(want[i]));
        }
      }
}
