// CUDA kernels of the fused layer norm over the last dim (tensor/cuda/layer_norm.cu); the same
// signatures and math as tensor/cpu/layer_norm.h:
//   x, y, dy, dx [rows, D], w, b, dw, db [D], mean, rstd [rows]; w, b, dx, dw, db may be null;
//   mean, rstd math_t<T> (float32 for bfloat16); add_layer_norm_forward: x, residual, h [rows, D],
//   h = x + residual stored and normalised.
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/half.h"

namespace neat::cuda {

template <typename T>
void layer_norm_forward(Cuda, const T* x, const T* w, const T* b, T* y, math_t<T>* mean,
                        math_t<T>* rstd, int64_t rows, int64_t D, double eps);
template <typename T>
void add_layer_norm_forward(Cuda, const T* x, const T* residual, const T* w, const T* b, T* h,
                            T* y, math_t<T>* mean, math_t<T>* rstd, int64_t rows, int64_t D,
                            double eps);
template <typename T>
void layer_norm_backward(Cuda, const T* dy, const T* x, const T* w, const math_t<T>* mean,
                         const math_t<T>* rstd, T* dx, T* dw, T* db, int64_t rows, int64_t D);

}  // namespace neat::cuda
