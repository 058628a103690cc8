// Activation modules (no parameters), for module trees that name their activation.
#pragma once
#include "nn/module.h"

namespace neat {

// Exact GELU, x * Phi(x), as torch.nn.GELU() (approximate='none') and HF's "gelu".
class GELU : public Layer {
 public:
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "GELU"; }
};

}  // namespace neat
