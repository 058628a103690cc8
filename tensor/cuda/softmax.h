// CUDA kernels of softmax and log-softmax over one dim (tensor/cuda/softmax.cu); the same
// signatures and math as tensor/cpu/softmax.h: x, y, dy, dx [outer, n, inner].
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"

namespace neat::cuda {

template <typename T>
void softmax_forward(Cuda, const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                     bool log_output);
template <typename T>
void softmax_backward(Cuda, const T* dy, const T* y, T* dx, int64_t outer, int64_t n,
                      int64_t inner, bool log_output);

}  // namespace neat::cuda
