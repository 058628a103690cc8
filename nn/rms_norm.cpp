#include "nn/rms_norm.h"

#include "autograd/cast.h"
#include "autograd/nn_functional.h"

namespace neat {

RMSNorm::RMSNorm(int64_t dim, double eps) : eps_(eps) {
  NEAT_CHECK(dim > 0 && eps >= 0, "RMSNorm: need dim > 0 and eps >= 0, got ", dim, ", ", eps);
  weight = register_parameter("weight", ones({dim}));
}

Variable RMSNorm::forward(const Variable& x) {
  return rms_norm(x, in_dtype_of(weight, x), eps_);
}

}  // namespace neat
