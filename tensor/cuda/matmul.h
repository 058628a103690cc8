// CUDA kernel of matmul and matmul_into through cuBLAS (tensor/cuda/matmul.cu); the same
// signature and meaning as tensor/cpu/matmul.h:
//   C [count, M, N], C[t] = alpha op(A[a_index[t]]) op(B[b_index[t]]) + beta C[t]
// A, B, C device memory; a_index, b_index host arrays of `count` entries. T: float, double.
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"

namespace neat::cuda {

template <typename T>
void matmul_forward(Cuda, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                    const T* B, T beta, T* C, const int64_t* a_index, const int64_t* b_index,
                    int64_t count);

}  // namespace neat::cuda
