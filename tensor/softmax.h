// Softmax and log-softmax over one dim, numerically stable (max subtracted), and their
// backward from the saved output.
#pragma once
#include "tensor/tensor.h"

namespace neat {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// y = softmax(x): dx = y * (dy - sum(dy * y, dim))
Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim);
// y = log_softmax(x): dx = dy - exp(y) * sum(dy, dim)
Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim);

}  // namespace neat
