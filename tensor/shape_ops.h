// Ops that move data between shapes: transpose, permute, narrow, concat, index_select.
// All produce new contiguous tensors (reshape, a view, lives on Tensor itself).
#pragma once
#include "tensor/tensor.h"

namespace neat {

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
// Inverse permutation: permute(permute(x, p), inverse_permutation(p)) == x.
std::vector<int64_t> inverse_permutation(const std::vector<int64_t>& dims);

// x.narrow(dim, start, length) as a copy.
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// Backward of narrow: zeros of input_shape with grad written at [start, start + length).
Tensor narrow_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t start);

Tensor concat(const std::vector<Tensor>& parts, int64_t dim);

// out = x gathered along dim at the int64 indices (embedding lookup with dim 0).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// Backward of index_select: zeros of input_shape, then += src slices at the indices
// (repeated indices accumulate).
Tensor index_add(const Shape& input_shape, int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace neat
