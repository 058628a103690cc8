// CPU kernel of the dropout mask (inverted dropout, as PyTorch): each element is 0 with
// probability p, else 1 / (1 - p), so the expected value of x * mask is x.
//   mask [n]; element i is drawn i-th from the generator (row-major), so the same seed gives
//   the same mask on any number of threads.
#pragma once
#include <cstdint>

#include "tensor/cpu/device.h"
#include "tensor/random.h"

namespace neat::cpu {

template <typename T>
void dropout_mask(Cpu, T* mask, int64_t n, double p, Generator& gen) {
  const T keep = p < 1 ? T(1.0 / (1.0 - p)) : T(0);
  for (int64_t i = 0; i < n; ++i) mask[i] = gen.uniform() < p ? T(0) : keep;
}

}  // namespace neat::cpu
