// CUDA kernels of the fused RMS norm over the last dim (tensor/cuda/rms_norm.cu); the same
// signatures and math as tensor/cpu/rms_norm.h:
//   x, y, dy, dx [rows, D], w, dw [D], rstd [rows]; dx, dw may be null;
//   rstd math_t<T> (float32 for bfloat16).
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/half.h"

namespace neat::cuda {

template <typename T>
void rms_norm_forward(Cuda, const T* x, const T* w, T* y, math_t<T>* rstd, int64_t rows,
                      int64_t D, double eps);
template <typename T>
void rms_norm_backward(Cuda, const T* dy, const T* x, const T* w, const math_t<T>* rstd, T* dx,
                       T* dw, int64_t rows, int64_t D);

}  // namespace neat::cuda
