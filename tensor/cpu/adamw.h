// CPU kernel of one AdamW step over many parameters: one parameter after another, each one's
// elements spread over the threads. The update's formula: tensor/adamw_update.h.
//   tensors[count]: param, grad, exp_avg, exp_avg_sq [n] each, and that parameter's scalars
#pragma once
#include <cstdint>

#include "tensor/adamw_update.h"
#include "tensor/cpu/device.h"

namespace neat::cpu {

template <typename T>
void adamw_step(Cpu, const AdamWTensor<T>* tensors, int64_t count) {
  for (int64_t k = 0; k < count; ++k) {
    const AdamWTensor<T> t = tensors[k];
#pragma omp parallel for schedule(static) if (t.n >= kParallelThreshold)
    for (int64_t i = 0; i < t.n; ++i)
      adamw_update(t.param[i], t.grad[i], t.exp_avg[i], t.exp_avg_sq[i], t.scalars);
  }
}

}  // namespace neat::cpu
