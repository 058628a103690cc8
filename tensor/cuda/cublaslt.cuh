// Row-major GEMMs with an epilogue through cuBLASLt (tensor/cuda/cublaslt.cu), the GPU side of
// the CPU's GemmEpilogue (tensor/cpu/gemm.h), for linear_forward, matmul_sum_forward and the
// weight gradient of tensor/cuda/matmul.cu:
//   D [M, N] = alpha op(A) op(B) + beta C + bias     (bias [N] added to every row; C may be D)
//   a_sums [M] = sum_k op(A)[m, k]                    (the bias gradient of a linear's dW GEMM)
// A is [M, K] (ta: stored [K, M]), B is [K, N] (tb: [N, K]), C and D [M, N], all contiguous.
// T: float (TF32 under cuda_set_allow_tf32, as the cuBLAS calls), double, or bfloat16 (float32
// compute, D rounded once, epilogue included; alpha and beta floats).
//
//   if (!lt_gemm<float>(false, true, rows, out, in, 1, x, w, 0, nullptr, y, {bias, nullptr}))
//     ... the same product through cuBLAS, the bias added by a pass of its own ...
//
// Returns false, having done nothing, when cuBLASLt is absent (tensor/cuda/cublaslt_library.cuh)
// or has no kernel for the case (CUBLAS_STATUS_NOT_SUPPORTED, or no algorithm found): the
// caller then takes its cuBLAS path. Any other cuBLASLt error is an error naming the call.
// The GELU of linear_gelu is not an epilogue here: cuBLASLt's GELU is the tanh approximation,
// the project's (tensor/scalar_math.h) the exact erf one.
#pragma once
#include <cstdint>

#include "tensor/half.h"

namespace neat::cuda {

// At most one of the two is set.
template <typename T>
struct LtEpilogue {
  const T* bias = nullptr;  // [N]: CUBLASLT_EPILOGUE_BIAS
  T* a_sums = nullptr;      // [M]: CUBLASLT_EPILOGUE_BGRADB (op(A) is cuBLAS's B)
};

template <typename T>
bool lt_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, math_t<T> alpha, const T* A,
             const T* B, math_t<T> beta, const T* C, T* D, const LtEpilogue<T>& epilogue);

}  // namespace neat::cuda
