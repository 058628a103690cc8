// CUDA kernels of matmul, matmul_into and linear_forward through cuBLAS (tensor/cuda/matmul.cu);
// the same signatures and meaning as tensor/cpu/matmul.h:
//   C [count, M, N], C[t] = alpha op(A[a_index[t]]) op(B[b_index[t]]) + beta C[t]
// A, B, C device memory; a_index, b_index host arrays of `count` entries. T: float, double, or
// bfloat16 (cublasGemmEx, float32 compute; alpha, beta and scale in math_t<T>, float), whose
// C is bfloat16 or, in matmul_forward, float32 (TC).
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/half.h"

namespace neat::cuda {

template <typename T, typename TC>
void matmul_forward(Cuda, bool ta, bool tb, int64_t M, int64_t N, int64_t K, math_t<T> alpha,
                    const T* A, const T* B, math_t<T> beta, TC* C, const int64_t* a_index,
                    const int64_t* b_index, int64_t count);

// C [M, N] = op(A) op(B) + scale op(A2) op(B2) + bias [N] (bias may be null), as
// tensor/cpu/matmul.h: the first GEMM with the bias epilogue (cuBLASLt), or C starts as the bias
// rows and a cuBLAS GEMM adds into it; the second GEMM adds into C (bfloat16:
// both GEMMs into a float32 scratch, then one pass adds the bias and rounds once into C).
template <typename T>
void matmul_sum_forward(Cuda, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A,
                        const T* B, bool ta2, bool tb2, int64_t K2, math_t<T> scale, const T* A2,
                        const T* B2, const T* bias, T* C);

// z = x [rows, IN] w [OUT, IN]^T + bias [OUT] + residual [rows, OUT] (bias, residual may be
// null); y = gelu(z) when gelu, else z; with gelu, `product` (null: not kept) also receives z.
// As tensor/cpu/matmul.h: one cuBLASLt GEMM with the bias as its epilogue and the residual as
// C (tensor/cuda/cublaslt.cuh), then GELU one elementwise pass (in place when z is not kept).
// Where cuBLASLt cannot: z starts as the bias rows, the cuBLAS GEMM adds into it (beta = 1),
// the residual is an axpy. bfloat16 with GELU (and the cuBLAS path): the GEMM into a float32
// scratch, then one pass adds the bias and residual, applies GELU and rounds once into y (and
// z), as the CPU's bf16 GEMM stores. Device pointers.
template <typename T>
void linear_forward(Cuda, int64_t rows, int64_t out, int64_t in, const T* x, const T* w,
                    const T* bias, const T* residual, bool gelu, T* product, T* y);

// dw [OUT, IN] = dy [rows, OUT]^T x [rows, IN]; db [OUT] = sum over rows of dy when db is not
// null, summed by the GEMM's BGRADB epilogue (tensor/cuda/cublaslt.cuh), or by the reduction
// of tensor/cuda/reduce.h after a cuBLAS GEMM where cuBLASLt cannot.
template <typename T>
void linear_weight_grad(Cuda, int64_t rows, int64_t out, int64_t in, const T* dy, const T* x,
                        T* dw, T* db);

}  // namespace neat::cuda
