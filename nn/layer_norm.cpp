#include "nn/layer_norm.h"

#include "autograd/cast.h"
#include "autograd/nn_functional.h"

namespace neat {

LayerNorm::LayerNorm(int64_t dim, double eps) : eps_(eps) {
  NEAT_CHECK(dim > 0 && eps >= 0, "LayerNorm: need dim > 0 and eps >= 0, got ", dim, ", ", eps);
  weight = register_parameter("weight", ones({dim}));
  bias = register_parameter("bias", zeros({dim}));
}

Variable LayerNorm::forward(const Variable& x) {
  return layer_norm(x, in_dtype_of(weight, x), in_dtype_of(bias, x), eps_);
}

AddLayerNorm LayerNorm::forward_add(const Variable& x, const Variable& residual) {
  return add_layer_norm(x, residual, in_dtype_of(weight, x), in_dtype_of(bias, x), eps_);
}

}  // namespace neat
