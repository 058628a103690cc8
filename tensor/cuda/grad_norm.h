// CUDA kernels of the global norm and its clip (tensor/cuda/grad_norm.cu); the same signatures
// and meaning as tensor/cpu/grad_norm.h. x and n are host arrays (x[k] device memory); total and
// norm are device memory, read and written only by the kernels.  T: float, double, bfloat16.
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/half.h"

namespace neat::cuda {

template <typename T>
void add_squared_norms(Cuda, const T* const* x, const int64_t* n, int64_t count, double* total);

template <typename T>
void scale_to_norm(Cuda, T* const* x, const int64_t* n, int64_t count, const double* norm,
                   double max_norm);

}  // namespace neat::cuda
