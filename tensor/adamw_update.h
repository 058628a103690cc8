// The AdamW update of one element, written once for the CPU loop (tensor/cpu/adamw.h) and the
// CUDA kernel (tensor/cuda/adamw.cu): torch.optim.AdamW's single-tensor implementation
// (amsgrad=False), the same operation order, in the parameter's precision T.
//
//   p, g, m, v                                   (parameter, gradient, exp_avg, exp_avg_sq)
//   p <- p * decay                               decay = 1 - lr * weight_decay
//   m <- beta1 m + (1 - beta1) g
//   v <- beta2 v + (1 - beta2) g^2
//   p <- p - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
//        step_size = lr / (1 - beta1^t),  bias_correction2_sqrt = sqrt(1 - beta2^t)
//
//   AdamWScalars<float> s = adamw_scalars<float>(lr, weight_decay, 0.9, 0.999, 1e-8, step);
//   for (int64_t i = 0; i < n; ++i) adamw_update(p[i], g[i], m[i], v[i], s);
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/scalar_math.h"   // NEAT_HOST_DEVICE

namespace neat {

// One parameter's constants for one step.
template <typename T>
struct AdamWScalars {
  T decay, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps;
};

// Computed in double, then narrowed to T, as PyTorch does (narrowing 1 - beta1 is not the same
// as subtracting narrowed values). step counts from 1.
template <typename T>
AdamWScalars<T> adamw_scalars(double lr, double weight_decay, double beta1, double beta2,
                              double eps, int64_t step) {
  return {T(1.0 - lr * weight_decay),
          T(beta1),
          T(1.0 - beta1),
          T(beta2),
          T(1.0 - beta2),
          T(lr / (1.0 - std::pow(beta1, double(step)))),
          T(std::sqrt(1.0 - std::pow(beta2, double(step)))),
          T(eps)};
}

template <typename T>
NEAT_HOST_DEVICE inline void adamw_update(T& p, T g, T& m, T& v, const AdamWScalars<T>& s) {
  p *= s.decay;
  m = m * s.beta1 + s.one_minus_beta1 * g;
  v = v * s.beta2 + s.one_minus_beta2 * g * g;
  const T denom = std::sqrt(v) / s.bias_correction2_sqrt + s.eps;
  p -= s.step_size * (m / denom);
}

// One parameter's step on raw pointers (each of n elements): what the kernels take.
template <typename T>
struct AdamWTensor {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  int64_t n;
  AdamWScalars<T> scalars;
};

}  // namespace neat
