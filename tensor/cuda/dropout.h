// CUDA kernel of the dropout mask (tensor/cuda/dropout.cu); the same signature and mask as
// tensor/cpu/dropout.h: mask [n] (device memory), element i from the generator's i-th draw
// after `state`.
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"

namespace neat::cuda {

template <typename T>
void dropout_mask(Cuda, T* mask, int64_t n, double p, uint64_t state);

}  // namespace neat::cuda
