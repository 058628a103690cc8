#include "nn/peft/adapted_linear.h"

#include "tensor/elementwise.h"

namespace neat {

AdaptedLinear::AdaptedLinear(const Linear& base) {
  weight = register_parameter("weight", base.weight);
  weight.set_requires_grad(false);
  if (base.bias.defined()) {
    bias = register_parameter("bias", base.bias);
    bias.set_requires_grad(false);
  }
}

void AdditiveAdapter::merge() {
  NEAT_CHECK(!merged_, type_name(), ": merge of an already merged layer");
  Tensor w = weight.data();
  add_(w, delta_weight());
  merged_ = true;
}

void AdditiveAdapter::unmerge() {
  NEAT_CHECK(merged_, type_name(), ": unmerge of a layer that is not merged");
  Tensor w = weight.data();
  axpy_(w, -1.0, delta_weight());
  merged_ = false;
}

}  // namespace neat
