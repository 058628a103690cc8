// Row-major GEMMs through cuBLAS (defined in tensor/cuda/matmul.cu) for kernels that read
// matrices in place: explicit row strides (lda, ldb, ldc, in elements) and a batch of `count`
// products at constant strides (sa, sb, sc, in elements; 0 repeats one matrix):
//   C + t sc = alpha op(A + t sa) op(B + t sb) + beta (C + t sc),   op(A) [M, K], op(B) [K, N]
// A is [M, K] (ta: [K, M]) with row stride lda, B is [K, N] (tb: [N, K]) with row stride ldb.
// T: float, double, or bfloat16 (cublasGemmStridedBatchedEx, float32 compute; alpha and beta
// in math_t<T>, float for bfloat16).
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/half.h"

namespace neat::cuda {

template <typename T>
void gemm_batched_rows(bool ta, bool tb, int64_t M, int64_t N, int64_t K, math_t<T> alpha,
                       const T* A, int64_t lda, int64_t sa, const T* B, int64_t ldb, int64_t sb,
                       math_t<T> beta, T* C, int64_t ldc, int64_t sc, int64_t count);

}  // namespace neat::cuda
