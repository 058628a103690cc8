// RMSNorm over the last dim, as Hugging Face's LlamaRMSNorm(dim, eps) (torch.nn.RMSNorm with a
// weight): weight ones, no bias.
//   x [.., D] -> y = x / sqrt(mean(x^2) + eps) * weight  [.., D]
#pragma once
#include "nn/module.h"

namespace neat {

class RMSNorm : public Layer {
 public:
  explicit RMSNorm(int64_t dim, double eps = 1e-6);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "RMSNorm"; }

  double eps() const { return eps_; }
  Variable weight;  // [D]

 private:
  double eps_;
};

}  // namespace neat
