// Fused RMS norm over the last dim (LLaMA's LlamaRMSNorm, T5's T5LayerNorm): no mean is taken
// out and there is no bias.
//   x [.., D], weight [D]
//   y = x * rstd * weight,   rstd = 1 / sqrt(mean_j x_j^2 + eps)
//
//   RmsNormForward f = rms_norm_forward(x, weight, 1e-5);   // f.y [.., D], f.rstd [rows]
//   RmsNormGrads g = rms_norm_backward(dy, x, weight, f.rstd, true, true);
#pragma once
#include "tensor/tensor.h"

namespace neat {

struct RmsNormForward {
  Tensor y;     // [.., D]
  Tensor rstd;  // [rows] rows = numel / D
};
RmsNormForward rms_norm_forward(const Tensor& x, const Tensor& weight, double eps);

struct RmsNormGrads {
  Tensor x, weight;  // undefined where not asked for
};
// Derivation in docs/llama.md.
RmsNormGrads rms_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                               const Tensor& rstd, bool need_x, bool need_weight);

}  // namespace neat
