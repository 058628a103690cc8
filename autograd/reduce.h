// Differentiable reductions.
#pragma once
#include "autograd/variable.h"
#include "tensor/reduce.h"

namespace neat {

Variable sum(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable mean(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Max values over one dim; the gradient goes to the (first) argmax.
Variable max(const Variable& x, int64_t dim, bool keepdim = false);

}  // namespace neat
