#include "nn/dropout.h"

#include "autograd/nn_functional.h"

namespace neat {

Dropout::Dropout(double p, std::shared_ptr<Generator> gen) : p_(p), gen_(std::move(gen)) {
  NEAT_CHECK(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got ", p);
  NEAT_CHECK(p == 0 || gen_ != nullptr, "Dropout: p = ", p, " needs a generator");
}

Variable Dropout::forward(const Variable& x) {
  if (is_identity()) return x;
  return dropout(x, p_, true, *gen_);
}

}  // namespace neat
