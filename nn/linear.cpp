#include "nn/linear.h"

#include <cmath>

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "nn/init.h"

namespace neat {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, uint64_t seed)
    : in_features_(in_features), out_features_(out_features) {
  NEAT_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got in ",
             in_features, ", out ", out_features);
  Generator gen(seed);
  weight = register_parameter("weight", Tensor({out_features, in_features}));
  kaiming_uniform_(weight, std::sqrt(5.0), gen);  // = U(-1/sqrt(IN), 1/sqrt(IN))
  if (bias) {
    this->bias = register_parameter("bias", Tensor({out_features}));
    double bound = 1.0 / std::sqrt(double(in_features));
    uniform_(this->bias, -bound, bound, gen);
  }
}

Variable Linear::forward(const Variable& x) { return linear(x, weight, bias); }

std::shared_ptr<Linear> hf_linear(int64_t in, int64_t out, double initializer_range,
                                  Generator& gen) {
  auto layer = std::make_shared<Linear>(in, out);
  trunc_normal_(layer->weight, initializer_range, gen);
  zeros_(layer->bias);
  return layer;
}

Variable linear_then_gelu(Layer& dense, const Variable& x) {
  if (auto* plain = dynamic_cast<Linear*>(&dense)) return linear_gelu(x, plain->weight, plain->bias);
  return gelu(dense.forward(x));
}

Variable linear_then_add(Layer& dense, const Variable& x, const Variable& residual) {
  if (auto* plain = dynamic_cast<Linear*>(&dense))
    return linear_add(x, plain->weight, plain->bias, residual);
  return add(dense.forward(x), residual);
}

}  // namespace neat
