// Our CPU GEMM: C = alpha * op(A) op(B) + beta * C, row-major, op = transpose or not, then an
// optional epilogue on C.
//   op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides in elements.
// Cache-blocked with packed panels, a register-tiled vectorised micro-kernel and OpenMP
// threads; see gemm.cpp for the blocking.
#pragma once
#include <cstdint>

namespace neat {

// What the GEMM does to C as it stores each tile, while the tile is in cache, so that it costs
// no pass over C of its own (all off by default), in this order:
//   bias      N values added to every row of C (a Linear's bias);
//   residual  an M x N matrix, with C's row stride, added to the finished C (a residual
//             connection: autograd/matmul.h's linear_add), so C is the same bits as the
//             product, then add(C, residual);
//   gelu      then gelu(C), the exact erf GELU of tensor/scalar_math.h (autograd/matmul.h's
//             linear_gelu, a Linear followed by GELU), written to ...
//   gelu_out  ... this M x N matrix, with C's row stride, so that C keeps the product (what
//             GELU's backward needs); null: over C itself.
template <typename T>
struct GemmEpilogue {
  const T* bias = nullptr;
  const T* residual = nullptr;
  bool gelu = false;
  T* gelu_out = nullptr;
};

// A second product summed into the first, as more k steps of the same tiles:
//   C = alpha (op(A) op(B) + scale op(A2) op(B2)) + beta C, then the epilogue,
// op(A2) M x k, op(B2) k x N, each operand with its own transpose flag and row stride. For a
// small k: a rank-r adapter's update beside its frozen weight (LoRA's and Neat's
// y = x W0^T + s z B^T, and their dx = dy W0 + dz A), which then costs no pass over C.
// a == nullptr or k == 0: none.
template <typename T>
struct GemmSecondProduct {
  const T* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  const T* b = nullptr;
  int64_t ldb = 0;
  bool trans_b = false;
  int64_t k = 0;
  T scale = 1;
};

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, const GemmEpilogue<float>& epilogue = {},
           const GemmSecondProduct<float>& second = {});
void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
           const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
           int64_t ldc, const GemmEpilogue<double>& epilogue = {},
           const GemmSecondProduct<double>& second = {});

// sgemm or dgemm, chosen by T (float or double).
template <typename T>
void typed_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc,
                const GemmEpilogue<T>& epilogue = {}, const GemmSecondProduct<T>& second = {}) {
  if constexpr (sizeof(T) == 4)
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue, second);
  else
    dgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue, second);
}

// How many GEMM calls have run since start (sgemm + dgemm). Lets tests prove that a frozen
// weight's gradient GEMM never runs, without timing anything.
int64_t gemm_call_count();

}  // namespace neat
