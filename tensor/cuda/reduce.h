// CUDA kernels of the reductions (tensor/cuda/reduce.cu); the same signatures and math as
// tensor/cpu/reduce.h: x [outer, R, inner] reduced over R to [outer, inner], and the squared
// norm x [n] -> *total += sum x^2 (total: one double in device memory).
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/half.h"

namespace neat::cuda {

// T: float, double, int64_t, bfloat16 (summed in float32). out = scale * the sum.
template <typename T>
void sum_kernel(Cuda, T* out, const T* x, int64_t outer, int64_t R, int64_t inner,
                math_t<T> scale);
template <typename T>
void max_kernel(Cuda, T* values, int64_t* indices, const T* x, int64_t outer, int64_t R, int64_t inner);
// T: float, double, bfloat16.
template <typename T>
void max_backward_kernel(Cuda, T* dx, const T* grad, const int64_t* indices, int64_t outer,
                         int64_t R, int64_t inner);
template <typename T>
void add_sum_of_squares(Cuda, const T* x, int64_t n, double* total);

}  // namespace neat::cuda
