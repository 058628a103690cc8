#include "nn/activation.h"

#include "autograd/elementwise.h"

namespace neat {

Variable GELU::forward(const Variable& x) { return gelu(x); }

}  // namespace neat
