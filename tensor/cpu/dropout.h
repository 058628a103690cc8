// CPU kernel of the dropout mask (inverted dropout, as PyTorch): each element is 0 with
// probability p, else 1 / (1 - p), so the expected value of x * mask is x.
//   mask [n]; element i is 0 when u_i < p, u_i = uniform_from_bits(splitmix64_draw(state, i)),
//   the generator's i-th draw after `state` (tensor/random.h): the same mask on any number of
//   threads, and on the GPU (tensor/cuda/dropout.cu).
#pragma once
#include <cstdint>

#include "tensor/cpu/device.h"
#include "tensor/half.h"
#include "tensor/random.h"

namespace neat::cpu {

template <typename T>
void dropout_mask(Cpu, T* mask, int64_t n, double p, uint64_t state) {
  const T keep = convert_value<T>(p < 1 ? 1.0 / (1.0 - p) : 0.0);  // bf16: keep rounded
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    mask[i] = uniform_from_bits(splitmix64_draw(state, uint64_t(i))) < p ? T(0.0f) : keep;
}

}  // namespace neat::cpu
