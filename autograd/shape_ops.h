// Differentiable shape ops.
#pragma once
#include "autograd/variable.h"
#include "tensor/elementwise.h"
#include "tensor/shape_ops.h"

namespace neat {

Variable reshape(const Variable& x, const Shape& shape);
Variable transpose(const Variable& x, int64_t dim0, int64_t dim1);
Variable permute(const Variable& x, const std::vector<int64_t>& dims);
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length);
Variable concat(const std::vector<Variable>& parts, int64_t dim);
// Gathers along dim at int64 indices (embedding lookup); index is data, not differentiable.
Variable index_select(const Variable& x, int64_t dim, const Tensor& index);
// x repeated along its size-1 (or missing leading) dims to `shape`, as torch's
// x.expand(shape).contiguous(): ViT's [1, 1, D] class token over the batch, with no index to
// check. The backward sums the gradient over the repeated dims.
Variable expand(const Variable& x, const Shape& shape);

}  // namespace neat
