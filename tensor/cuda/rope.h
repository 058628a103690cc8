// CUDA kernel of the rotary position embedding on packed heads (tensor/cuda/rope.cu); the same
// signature and math as tensor/cpu/rope.h:
//   x, y [tokens, H*hd], pos int64 [tokens], inv_freq [hd/2] math_t<T>
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/half.h"

namespace neat::cuda {

template <typename T>
void rope_rotate(Cuda, const T* x, const int64_t* pos, const math_t<T>* inv_freq, T* y,
                 int64_t tokens, int64_t heads, int64_t half, bool inverse);

}  // namespace neat::cuda
