#include "nn/linear.h"

#include <cmath>

#include "autograd/cast.h"
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

// A float32 master weight in a bf16 forward enters through to_dtype (autograd/cast.h).
Variable Linear::forward(const Variable& x) {
  return linear(x, in_dtype_of(weight, x), in_dtype_of(bias, x));
}

std::shared_ptr<Linear> hf_linear(int64_t in, int64_t out, double initializer_range,
                                  Generator& gen) {
  auto layer = std::make_shared<Linear>(in, out);
  trunc_normal_(layer->weight, initializer_range, gen);
  zeros_(layer->bias);
  return layer;
}

Variable linear_then_gelu(Layer& dense, const Variable& x) {
  if (auto* plain = dynamic_cast<Linear*>(&dense))
    return linear_gelu(x, in_dtype_of(plain->weight, x), in_dtype_of(plain->bias, x));
  return gelu(dense.forward(x));
}

Variable linear_then_add(Layer& dense, const Variable& x, const Variable& residual) {
  if (auto* plain = dynamic_cast<Linear*>(&dense))
    return linear_add(x, in_dtype_of(plain->weight, x), in_dtype_of(plain->bias, x), residual);
  return add(dense.forward(x), residual);
}

}  // namespace neat
