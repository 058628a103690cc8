// CPU kernel of one AdamW step on one parameter, exactly as torch.optim.AdamW's single-tensor
// implementation (amsgrad=False): the same operation order, in the parameter's precision.
//
//   p, g, m, v [n]                               (parameter, gradient, exp_avg, exp_avg_sq)
//   p <- p * decay                               decay = 1 - lr * weight_decay
//   m <- beta1 m + (1 - beta1) g
//   v <- beta2 v + (1 - beta2) g^2
//   p <- p - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
//        step_size = lr / (1 - beta1^t),  bias_correction2_sqrt = sqrt(1 - beta2^t)
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/cpu/device.h"

namespace neat::cpu {

// The scalars are computed in double, then narrowed to T, as PyTorch does (narrowing 1 - beta1
// is not the same as subtracting narrowed values). step counts from 1.
template <typename T>
void adamw_step(Cpu, T* p, const T* g, T* m, T* v, int64_t n, double lr, double weight_decay,
                double beta1, double beta2, double eps, int64_t step) {
  const T decay = T(1.0 - lr * weight_decay);
  const T b1 = T(beta1), one_minus_b1 = T(1.0 - beta1);
  const T b2 = T(beta2), one_minus_b2 = T(1.0 - beta2);
  const T step_size = T(lr / (1.0 - std::pow(beta1, double(step))));
  const T bias_correction2_sqrt = T(std::sqrt(1.0 - std::pow(beta2, double(step))));
  const T epsilon = T(eps);
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    p[i] *= decay;
    m[i] = m[i] * b1 + one_minus_b1 * g[i];
    v[i] = v[i] * b2 + one_minus_b2 * g[i] * g[i];
    const T denom = std::sqrt(v[i]) / bias_correction2_sqrt + epsilon;
    p[i] -= step_size * (m[i] / denom);
  }
}

}  // namespace neat::cpu
