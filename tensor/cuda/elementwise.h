// CUDA kernels of the elementwise ops (tensor/cuda/elementwise.cu); the same entry points and
// math as tensor/cpu/elementwise.h, the op named by its enum (tensor/elementwise_ops.h):
//   unary_forward:     y [n] = f(x)                  unary_backward: dx [n] = dy * f'(v)
//   binary_contiguous: out [n] = a op b              binary_broadcast: the same, broadcast
//   scalar_op:         y [n] = x op s                axpy: y [n] += alpha x
//   expand_broadcast:  out = x repeated              count_nonfinite: *count = #NaN/inf of x [n]
// shape and strides (the broadcast layout) are host arrays; every other pointer is device memory.
// T is float, double or bfloat16 (int64 too for the binary ops and expand); the math runs in
// math_t<T> (float32 for bfloat16, rounded once when stored).
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/elementwise_ops.h"
#include "tensor/half.h"

namespace neat::cuda {

template <typename T>
void unary_forward(Cuda, UnaryOp op, T* y, const T* x, int64_t n);
template <typename T>
void unary_backward(Cuda, UnaryOp op, T* dx, const T* dy, const T* v, int64_t n);
template <typename T>
void binary_contiguous(Cuda, BinaryOp op, T* out, const T* a, const T* b, int64_t n);
template <typename T>
void binary_broadcast(Cuda, BinaryOp op, T* out, const T* a, const T* b, int64_t rank,
                      const int64_t* shape, const int64_t* stride_a, const int64_t* stride_b);
template <typename T>
void scalar_op(Cuda, ScalarOp op, T* y, const T* x, math_t<T> s, int64_t n);
template <typename T>
void axpy(Cuda, T* y, math_t<T> alpha, const T* x, int64_t n);
template <typename T>
void expand_broadcast(Cuda, T* out, const T* x, int64_t rank, const int64_t* shape,
                      const int64_t* stride);
template <typename T>
void count_nonfinite(Cuda, const T* x, int64_t n, int64_t* count);

}  // namespace neat::cuda
