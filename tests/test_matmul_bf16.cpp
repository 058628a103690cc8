// matmul, matmul_into, matmul_sum and the linear ops on bfloat16 tensors (tensor/matmul.h:
// bf16_gemm on the CPU, cuBLAS's bf16 GEMM on CUDA), against float64 products of the same
// bf16 values, and the autograd linear's backward in bf16.
//
// The bound (docs/bf16.md's, for the GEMM under them): bf16 operands are exact in float32, so
// the only errors are float32 summation's over the K products and, for a bf16 output, the one
// rounding at the end (bf16's unit roundoff u = 2^-8):
//   |C - C64| <= u |C64| + 2 (K + 12) 2^-24 S,   S = sum_k |a_k b_k| (+ |bias| + |residual|)
// GELU's output: its slope is at most 1.13, so 1.13 times the sum's part, then u |gelu(C64)|.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "autograd/matmul.h"
#include "tensor/elementwise.h"
#include "tensor/gpu.h"
#include "tensor/matmul.h"
#include "tensor/random.h"
#include "tensor/scalar_math.h"
#include "tests/skip.h"

using namespace neat;

namespace {

constexpr double kBf16Unit = 1.0 / 256;   // 2^-8

Tensor random_bf16(Shape shape, uint64_t seed) {
  Generator gen(seed);
  return uniform(std::move(shape), -1.0, 1.0, gen).to(DType::BFloat16);
}

// |t| in float64 (for the bound's S = |a| |b|).
Tensor abs64(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  for (double& e : v) e = std::abs(e);
  return from_vector(v, t.shape());
}

// Every element of got (any dtype) within the bound of want64 (float64): u_out |want| + the
// float32 summation's part over K products of magnitude sum_abs; gelu_slope scales that part.
void check_bf16_bound(const std::string& what, const Tensor& got, const Tensor& want64,
                      const Tensor& sum_abs, int64_t K, bool bf16_out, double gelu_slope = 1) {
  REQUIRE(got.shape() == want64.shape());
  const double sum_part = gelu_slope * 2.0 * double(K + 12) * std::ldexp(1.0, -24);
  int failures = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double want = want64.flat(i), error = std::abs(got.flat(i) - want);
    const double bound = (bf16_out ? kBf16Unit * std::abs(want) : 0) + sum_part * sum_abs.flat(i);
    if (!(error <= bound) && failures++ < 3)
      FAIL_CHECK(what << ": element " << i << " is " << got.flat(i) << ", float64 " << want
                      << ", error " << error << " > bound " << bound);
  }
  CHECK_MESSAGE(failures == 0, what << ": " << failures << " elements out of bound");
}

}  // namespace

TEST_CASE("matmul bf16: every transpose, batched and folded, within the bound of float64") {
  struct Case {
    Shape a, b;
    bool ta, tb;
  };
  const Case cases[] = {{{17, 33}, {33, 45}, false, false},   {{33, 17}, {33, 45}, true, false},
                        {{17, 33}, {45, 33}, false, true},    {{33, 17}, {45, 33}, true, true},
                        {{2, 3, 9, 70}, {70, 5}, false, false},  // a's batch folded into rows
                        {{2, 1, 9, 70}, {3, 5, 70}, false, true},  // broadcast batch
                        {{4, 70, 9}, {4, 70, 6}, true, false}};
  uint64_t seed = 1;
  for (const Case& c : cases) {
    const Tensor a = random_bf16(c.a, seed++), b = random_bf16(c.b, seed++);
    const Tensor y = matmul(a, b, c.ta, c.tb);
    CHECK(y.dtype() == DType::BFloat16);
    const Tensor want = matmul(a.to(DType::Float64), b.to(DType::Float64), c.ta, c.tb);
    const Tensor s = matmul(abs64(a), abs64(b), c.ta, c.tb);
    const int64_t K = c.ta ? c.a[c.a.size() - 2] : c.a.back();
    check_bf16_bound("matmul " + shape_str(c.a) + " x " + shape_str(c.b), y, want, s, K, true);
  }
}

TEST_CASE("matmul bf16: matmul_into a float32 output keeps the float32 sums, alpha and beta") {
  const Tensor a = random_bf16({40, 300}, 11), b = random_bf16({300, 24}, 12);
  Generator gen(13);
  Tensor c = uniform({40, 24}, -1.0, 1.0, gen);
  const Tensor c0 = c.to(DType::Float64);
  matmul_into(c, a, b, false, false, 0.75, -0.5);
  CHECK(c.dtype() == DType::Float32);
  Tensor want = matmul(a.to(DType::Float64), b.to(DType::Float64));
  want = add(mul_scalar(want, 0.75), mul_scalar(c0, -0.5));
  Tensor s = add(mul_scalar(matmul(abs64(a), abs64(b)), 0.75), mul_scalar(abs64(c0), 0.5));
  check_bf16_bound("matmul_into float32 C", c, want, s, 300, /*bf16_out=*/false);
  // a bf16 output too; any other mix is an error naming the dtypes
  Tensor c16 = Tensor({40, 24}, DType::BFloat16);
  matmul_into(c16, a, b, false, false, 1.0, 0.0);
  check_bf16_bound("matmul_into bf16 C", c16, matmul(a.to(DType::Float64), b.to(DType::Float64)),
                   matmul(abs64(a), abs64(b)), 300, true);
  Tensor c64({40, 24}, DType::Float64);
  CHECK_THROWS_WITH(matmul_into(c64, a, b, false, false, 1.0, 0.0),
                    doctest::Contains("output float64 [40, 24] for bfloat16 operands"));
  CHECK_THROWS_WITH(matmul(a, b.to(DType::Float32)), doctest::Contains("bfloat16"));
}

TEST_CASE("matmul bf16: linear, linear_add, linear_gelu and matmul_sum epilogues") {
  const int64_t rows = 37, in = 130, out = 29, r = 6;
  const Tensor x = random_bf16({rows, in}, 21), w = random_bf16({out, in}, 22);
  const Tensor bias = random_bf16({out}, 23), res = random_bf16({rows, out}, 24);
  const Tensor x64 = x.to(DType::Float64), w64 = w.to(DType::Float64);
  const Tensor z64 = add(matmul(x64, w64, false, true), bias.to(DType::Float64));
  const Tensor s = add(matmul(abs64(x), abs64(w), false, true), abs64(bias));

  check_bf16_bound("linear_forward", linear_forward(x, w, bias), z64, s, in, true);
  check_bf16_bound("linear_add_forward", linear_add_forward(x, w, bias, res),
                   add(z64, res.to(DType::Float64)), add(s, abs64(res)), in, true);
  Tensor z;
  const Tensor g = linear_gelu_forward(x, w, bias, &z);
  check_bf16_bound("linear_gelu_forward's z", z, z64, s, in, true);
  check_bf16_bound("linear_gelu_forward", g, unary(UnaryOp::Gelu, z64), s, in, true, 1.13);

  // y = x W^T + 0.5 u B^T + bias: a rank-r adapter beside its frozen weight (LoRA, Neat)
  const Tensor u = random_bf16({rows, r}, 25), B = random_bf16({out, r}, 26);
  const Tensor y = matmul_sum(x, w, false, true, u, B, false, true, 0.5, bias);
  CHECK(y.dtype() == DType::BFloat16);
  const Tensor want = add(z64, mul_scalar(matmul(u.to(DType::Float64), B.to(DType::Float64),
                                                 false, true), 0.5));
  const Tensor s2 = add(s, mul_scalar(matmul(abs64(u), abs64(B), false, true), 0.5));
  check_bf16_bound("matmul_sum", y, want, s2, in + r, true);
}

TEST_CASE("matmul bf16: linear's backward gives bf16 dx and dW within the bound") {
  const int64_t rows = 23, in = 90, out = 17;
  const Tensor x = random_bf16({rows, in}, 31), w = random_bf16({out, in}, 32);
  const Tensor b = random_bf16({out}, 33), dy = random_bf16({rows, out}, 34);
  Variable vx(x, true), vw(w, true), vb(b, false);
  Variable y = linear(vx, vw, vb);
  CHECK(y.dtype() == DType::BFloat16);
  y.backward(dy);
  REQUIRE(vx.grad().dtype() == DType::BFloat16);
  REQUIRE(vw.grad().dtype() == DType::BFloat16);
  const Tensor dy64 = dy.to(DType::Float64);
  check_bf16_bound("linear dx = dy W", vx.grad(), matmul(dy64, w.to(DType::Float64)),
                   matmul(abs64(dy), abs64(w)), out, true);
  check_bf16_bound("linear dW = dy^T x", vw.grad(),
                   matmul(dy64, x.to(DType::Float64), true, false),
                   matmul(abs64(dy), abs64(x), true, false), rows, true);
}

TEST_CASE("cuda: bf16 matmul, matmul_into (float32 C), matmul_sum and linear within the bound") {
  if (!cuda_available()) return test::skip(cuda_unavailable_reason());
  const Device gpu = Device::CUDA;
  // strided batches (cublasGemmStridedBatchedEx), one entry at a time (cublasGemmEx)
  for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{{2, 9, 70}, {2, 70, 5}},
                                                                   {{2, 1, 9, 70}, {3, 70, 5}}}) {
    const Tensor a = random_bf16(sa, 41), b = random_bf16(sb, 42);
    check_bf16_bound("cuda matmul " + shape_str(sa), matmul(a.to(gpu), b.to(gpu)).to(Device::CPU),
                     matmul(a.to(DType::Float64), b.to(DType::Float64)),
                     matmul(abs64(a), abs64(b)), 70, true);
  }
  const Tensor a = random_bf16({40, 300}, 43), b = random_bf16({24, 300}, 44);
  Tensor c = zeros({40, 24}, DType::Float32, gpu);
  matmul_into(c, a.to(gpu), b.to(gpu), false, true, 1.0, 0.0);
  check_bf16_bound("cuda matmul_into float32 C", c.to(Device::CPU),
                   matmul(a.to(DType::Float64), b.to(DType::Float64), false, true),
                   matmul(abs64(a), abs64(b), false, true), 300, false);

  const int64_t rows = 37, in = 130, out = 29, r = 6;
  const Tensor x = random_bf16({rows, in}, 45), w = random_bf16({out, in}, 46);
  const Tensor bias = random_bf16({out}, 47), res = random_bf16({rows, out}, 48);
  const Tensor z64 = add(matmul(x.to(DType::Float64), w.to(DType::Float64), false, true),
                         bias.to(DType::Float64));
  const Tensor s = add(matmul(abs64(x), abs64(w), false, true), abs64(bias));
  const Tensor xg = x.to(gpu), wg = w.to(gpu), bg = bias.to(gpu);
  check_bf16_bound("cuda linear_add_forward",
                   linear_add_forward(xg, wg, bg, res.to(gpu)).to(Device::CPU),
                   add(z64, res.to(DType::Float64)), add(s, abs64(res)), in, true);
  Tensor z;
  const Tensor g = linear_gelu_forward(xg, wg, bg, &z);
  check_bf16_bound("cuda linear_gelu_forward's z", z.to(Device::CPU), z64, s, in, true);
  check_bf16_bound("cuda linear_gelu_forward", g.to(Device::CPU), unary(UnaryOp::Gelu, z64), s,
                   in, true, 1.13);
  const Tensor u = random_bf16({rows, r}, 49), B = random_bf16({out, r}, 50);
  const Tensor y = matmul_sum(xg, wg, false, true, u.to(gpu), B.to(gpu), false, true, 0.5, bg);
  check_bf16_bound("cuda matmul_sum", y.to(Device::CPU),
                   add(z64, mul_scalar(matmul(u.to(DType::Float64), B.to(DType::Float64), false,
                                              true), 0.5)),
                   add(s, mul_scalar(matmul(abs64(u), abs64(B), false, true), 0.5)), in + r, true);
}
