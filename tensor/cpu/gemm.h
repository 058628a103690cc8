// Our CPU GEMM: C = alpha * op(A) op(B) + beta * C (+ bias), row-major, op = transpose or not.
//   op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides in elements.
//   bias: null, or N values added to every row of C as it is stored (a Linear's bias: no
//   separate pass over C).
// Cache-blocked with packed panels, a register-tiled vectorised micro-kernel and OpenMP
// threads; see gemm.cpp for the blocking.
#pragma once
#include <cstdint>

namespace neat {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, const float* bias = nullptr);
void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
           const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
           int64_t ldc, const double* bias = nullptr);

// sgemm or dgemm, chosen by T (float or double).
template <typename T>
void typed_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc,
                const T* bias = nullptr) {
  if constexpr (sizeof(T) == 4)
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
  else
    dgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

// How many GEMM calls have run since start (sgemm + dgemm). Lets tests prove that a frozen
// weight's gradient GEMM never runs, without timing anything.
int64_t gemm_call_count();

}  // namespace neat
