// Reductions: sum / mean / max over dims, with keepdim like PyTorch.
#pragma once
#include "tensor/tensor.h"

namespace neat {

// dims empty = all dims (result 0-d unless keepdim). Negative dims count from the end.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// Max over one dim: values and the int64 index of the (first) maximum.
struct MaxResult {
  Tensor values;
  Tensor indices;
};
MaxResult max(const Tensor& x, int64_t dim, bool keepdim = false);
// Gradient of max: grad_values routed to the argmax positions, zeros elsewhere.
Tensor max_backward(const Tensor& grad_values, const Tensor& indices, const Shape& input_shape,
                    int64_t dim, bool keepdim);
// Argmax over the last dim of a [N, C] tensor, as int64 [N] (accuracy).
Tensor argmax(const Tensor& x, int64_t dim);

// sum over every tensor of sum_i x_i^2: a float64 0-d tensor on their (common) device. Tensors
// in order, each summed as one block and the blocks' sums added in double (on the CPU every
// square is added in double; on CUDA a tensor's own sum runs in its math type, float for
// float32 and bf16). Clipping uses global_norm (tensor/grad_norm.h), its multi-tensor twin.
Tensor squared_norm(const std::vector<Tensor>& tensors);

// Expands a reduced tensor (keepdim or not) back over `shape` (backward of sum / mean).
Tensor expand_reduced(const Tensor& grad, const Shape& shape, const std::vector<int64_t>& dims,
                      bool keepdim);

}  // namespace neat
