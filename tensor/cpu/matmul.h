// CPU kernels of matmul and matmul_into (a batch of products, each one call of our GEMM,
// tensor/cpu/gemm.h) and of linear_forward (one GEMM with the bias, and GELU, in its store).
//   C [count, M, N], C[t] = alpha op(A[a_index[t]]) op(B[b_index[t]]) + beta C[t]
//   op(A) [M, K], op(B) [K, N]; beta = 0 writes C without reading it
// tensor/matmul.cpp plans the batch (broadcasting, folding a's batch into M) and the two ways
// to spread it over threads are chosen here. T: float, double, or bfloat16 (bf16_gemm: float32
// sums, bf16 operands and output, epilogue operands of the output's type).
#pragma once
#include <cstdint>
#include <type_traits>

#include "tensor/cpu/device.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/reduce.h"

namespace neat::cpu {

// Below this many multiply-adds a GEMM is too small to split over threads well, so a batch of
// them runs one GEMM per thread instead (about a 128^3 product).
constexpr int64_t kSmallGemm = int64_t(1) << 21;

// One product C = alpha op(A) op(B) + beta C on raw pointers; A, B, C contiguous row-major.
//   op(A) [M, K]: A is [M, K], or [K, M] when ta;  op(B) [K, N]: B is [K, N], or [N, K] when tb.
// T: float, double or bfloat16 (alpha, beta in math_t<T>, float for bfloat16); C is T, or
// float32 under bfloat16 operands (bf16_gemm's float32 C: a bf16 product kept in float32).
template <typename T, typename TC>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, math_t<T> alpha, const T* A,
          const T* B, math_t<T> beta, TC* C) {
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  if constexpr (std::is_same_v<T, TC>)
    typed_gemm<T>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
  else
    bf16_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
}

// C [count, M, N]: C[t] = alpha op(A[a_index[t]]) op(B[b_index[t]]) + beta C[t], A and B
// arrays of [M, K] and [K, N] matrices (stored transposed when ta / tb); C of T, or float32
// under bfloat16 A and B.
template <typename T, typename TC>
void matmul_forward(Cpu, bool ta, bool tb, int64_t M, int64_t N, int64_t K, math_t<T> alpha,
                    const T* A, const T* B, math_t<T> beta, TC* C, const int64_t* a_index,
                    const int64_t* b_index, int64_t count) {
  auto product = [&](int64_t t) {
    gemm<T, TC>(ta, tb, M, N, K, alpha, A + a_index[t] * M * K, B + b_index[t] * K * N, beta,
            C + t * M * N);
  };
  // Small products: one per thread (the GEMM sees omp_in_parallel() and stays on its thread).
  // Large ones: one after another, each GEMM using every thread. Not an `if` clause on one
  // pragma: a region switched off by `if` is still a region, and the GEMM's own region nested
  // in it would start a fresh team of threads on every call (measured: 40x slower).
  if (count > 1 && M * N * K < kSmallGemm) {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < count; ++t) product(t);
  } else {
    for (int64_t t = 0; t < count; ++t) product(t);
  }
}

// C [M, N] = op(A) op(B) + scale op(A2) op(B2) + bias [N] (bias may be null), all contiguous
// row-major (op(A) [M, K], op(B) [K, N], op(A2) [M, K2], op(B2) [K2, N]): one GEMM, the second
// product's K2 k steps summed into the same tiles as the first's (tensor/cpu/gemm.h's
// GemmSecondProduct), so C is written once.
template <typename T>
void matmul_sum_forward(Cpu, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A,
                        const T* B, bool ta2, bool tb2, int64_t K2, math_t<T> scale, const T* A2,
                        const T* B2, const T* bias, T* C) {
  const int64_t lda = ta ? M : K, ldb = tb ? K : N, lda2 = ta2 ? M : K2, ldb2 = tb2 ? K2 : N;
  typed_gemm<T>(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C, N, {bias},
                {A2, lda2, ta2, B2, ldb2, tb2, K2, scale});
}

// z = x [rows, IN] w [OUT, IN]^T + bias [OUT] + residual [rows, OUT] (bias, residual may be
// null); y [rows, OUT] = gelu(z) when gelu, else z. With gelu, `product` (null: not kept) also
// receives z, for GELU's backward. The bias, residual and GELU are applied as the GEMM stores
// each tile (tensor/cpu/gemm.h), so each output is written once and z is never read back.
template <typename T>
void linear_forward(Cpu, int64_t rows, int64_t out, int64_t in, const T* x, const T* w,
                    const T* bias, const T* residual, bool gelu, T* product, T* y) {
  T* z = gelu && product != nullptr ? product : y;
  typed_gemm<T>(false, true, rows, out, in, 1, x, in, w, in, 0, z, out,
                {bias, residual, gelu, z == y ? nullptr : y});
}

// dw [OUT, IN] = dy [rows, OUT]^T x [rows, IN]; db [OUT] = sum over rows of dy when db is not
// null: the GEMM, then the reduction of tensor/cpu/reduce.h (the bits of matmul and sum_to).
template <typename T>
void linear_weight_grad(Cpu, int64_t rows, int64_t out, int64_t in, const T* dy, const T* x,
                        T* dw, T* db) {
  gemm<T, T>(true, false, out, in, rows, 1, dy, x, 0, dw);
  if (db != nullptr) sum_kernel(Cpu{}, db, dy, 1, rows, out, math_t<T>(1));
}

}  // namespace neat::cpu
