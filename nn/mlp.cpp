#include "nn/mlp.h"

#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/dropout.h"
#include "nn/linear.h"

namespace neat {

MLP::MLP(int64_t in_features, int64_t hidden_features, int64_t out_features, double dropout,
         std::shared_ptr<Generator> gen, uint64_t seed) {
  fc1 = register_module<Layer>("fc1",
                               std::make_shared<Linear>(in_features, hidden_features, true, seed));
  act = register_module<Layer>("act", std::make_shared<GELU>());
  drop = register_module<Layer>("drop", std::make_shared<Dropout>(dropout, std::move(gen)));
  fc2 = register_module<Layer>(
      "fc2", std::make_shared<Linear>(hidden_features, out_features, true, seed + 1));
}

Variable MLP::forward(const Variable& x) {
  return fc2->forward(drop->forward(act->forward(fc1->forward(x))));
}

void MLP::on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) {
  auto layer = as_layer(child, name);
  if (name == "fc1") fc1 = layer;
  else if (name == "act") act = layer;
  else if (name == "drop") drop = layer;
  else if (name == "fc2") fc2 = layer;
}

}  // namespace neat
