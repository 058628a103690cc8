// LayerNorm over the last dim, as torch.nn.LayerNorm(dim, eps): weight ones, bias zeros.
//   x [.., D] -> y [.., D]
#pragma once
#include "nn/module.h"

namespace neat {

class LayerNorm : public Layer {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "LayerNorm"; }

  double eps() const { return eps_; }
  Variable weight;  // [D]
  Variable bias;    // [D]

 private:
  double eps_;
};

}  // namespace neat
