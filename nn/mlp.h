// The transformer feed-forward block: y = fc2(dropout(gelu(fc1(x)))), as timm's Mlp.
//   x [.., IN] -> hidden [.., HIDDEN] -> y [.., OUT]
// Every child is a Layer, replaceable by name (an adapter stands in for "fc1" or "fc2").
#pragma once
#include <memory>

#include "nn/module.h"

namespace neat {

class MLP : public Layer {
 public:
  // Linear layers initialised from Generator(seed) and Generator(seed + 1); gen (shared
  // dropout stream) may be null when dropout == 0.
  MLP(int64_t in_features, int64_t hidden_features, int64_t out_features, double dropout = 0.0,
      std::shared_ptr<Generator> gen = nullptr, uint64_t seed = 0);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "MLP"; }

  // Children, in registration order: "fc1", "act", "drop", "fc2".
  std::shared_ptr<Layer> fc1, act, drop, fc2;

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;
};

}  // namespace neat
