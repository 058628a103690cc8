// LayerNorm over the last dim, as torch.nn.LayerNorm(dim, eps): weight ones, bias zeros.
//   x [.., D] -> y [.., D]
//   forward_add(x, residual): {sum = x + residual, y = forward(sum)} in one fused forward
//   (add_layer_norm, autograd/nn_functional.h), for a transformer block's residual add.
#pragma once
#include "autograd/nn_functional.h"
#include "nn/module.h"

namespace neat {

class LayerNorm : public Layer {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5);
  Variable forward(const Variable& x) override;
  AddLayerNorm forward_add(const Variable& x, const Variable& residual);
  std::string type_name() const override { return "LayerNorm"; }

  double eps() const { return eps_; }
  Variable weight;  // [D]
  Variable bias;    // [D]

 private:
  double eps_;
};

}  // namespace neat
