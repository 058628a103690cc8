// Fused layer norm over the last dim (torch.nn.functional.layer_norm with one normalized dim).
//   x [.., D], weight [D], bias [D] (either may be undefined = 1 / 0)
//   y = (x - mean) * rstd * weight + bias,   rstd = 1 / sqrt(var + eps), var biased
#pragma once
#include "tensor/tensor.h"

namespace neat {

struct LayerNormForward {
  Tensor y;     // [.., D]
  Tensor mean;  // [rows] rows = numel / D
  Tensor rstd;  // [rows]
};
LayerNormForward layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                    double eps);

// The residual add fused into the layer norm (the plain ops: h = add(x, residual), then
// layer_norm_forward(h, ...)), one pass over each row; the same values as the two ops.
//   x, residual [.., D] (the same shape and dtype), weight, bias [D] or undefined
// Its backward is layer_norm_backward at h (dh then goes to x and residual alike).
struct AddLayerNormForward {
  Tensor h;     // [.., D] x + residual
  Tensor y;     // [.., D] layer_norm(h)
  Tensor mean;  // [rows]
  Tensor rstd;  // [rows]
};
AddLayerNormForward add_layer_norm_forward(const Tensor& x, const Tensor& residual,
                                           const Tensor& weight, const Tensor& bias, double eps);

struct LayerNormGrads {
  Tensor x, weight, bias;  // undefined where not asked for
};
// Derivation in docs/layer_norm.md.
LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool need_x,
                                   bool need_weight, bool need_bias);

}  // namespace neat
