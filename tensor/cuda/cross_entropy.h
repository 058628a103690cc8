// CUDA kernels of cross-entropy on integer labels (tensor/cuda/cross_entropy.cu); the same
// signatures and math as tensor/cpu/cross_entropy.h:
//   log_probs, dlogits [N, C]; labels [N] int64; loss, grad_loss 0-d, all device memory. The
//   first label outside [0, C) goes to the GPU's error record (tensor/cuda/device_errors.h).
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/error_slot.h"

namespace neat::cuda {

template <typename T>
void cross_entropy_forward(Cuda, const T* log_probs, const int64_t* labels, T* loss,
                           ErrorSlot check, int64_t N, int64_t C, double eps);
// dlogits of type D: T, or bfloat16 for T = float.
template <typename T, typename D>
void cross_entropy_backward(Cuda, const T* grad_loss, const T* log_probs, const int64_t* labels,
                            D* dlogits, ErrorSlot check, int64_t N, int64_t C, double eps);

}  // namespace neat::cuda
