// Differentiable softmax and log_softmax over one dim. Both save only their output: the
// gradient of either is a function of the output alone (docs/softmax_cross_entropy.md).
#include "autograd/nn_functional.h"
#include "tensor/softmax.h"

namespace neat {

// ---- softmax -------------------------------------------------------------------------------

struct SoftmaxNode : Node {
  int64_t dim = 0;
  Tensor y;
  const char* name() const override { return "softmax"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { y = Tensor(); }
};

Variable softmax(const Variable& x, int64_t dim) {
  auto node = std::make_shared<SoftmaxNode>();
  node->dim = dim;
  node->y = softmax(x.data(), dim);
  Tensor y = node->y;
  return record(std::move(y), std::move(node), {x});
}

// forward: y_j = exp(x_j) / sum_k exp(x_k) along dim
//   dx_j = sum_i dy_i dy_i/dx_j = sum_i dy_i y_i (delta_ij - y_j) = y_j (dy_j - sum_i dy_i y_i)
std::vector<Tensor> SoftmaxNode::backward(const Tensor& grad) {
  return {softmax_backward(grad, y, dim)};
}

// ---- log_softmax ---------------------------------------------------------------------------

struct LogSoftmaxNode : Node {
  int64_t dim = 0;
  Tensor y;
  const char* name() const override { return "log_softmax"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { y = Tensor(); }
};

Variable log_softmax(const Variable& x, int64_t dim) {
  auto node = std::make_shared<LogSoftmaxNode>();
  node->dim = dim;
  node->y = log_softmax(x.data(), dim);
  Tensor y = node->y;
  return record(std::move(y), std::move(node), {x});
}

// forward: y_j = x_j - log sum_k exp(x_k) along dim
//   dy_i/dx_j = delta_ij - softmax_j = delta_ij - exp(y_j)
//   dx_j = dy_j - exp(y_j) sum_i dy_i
std::vector<Tensor> LogSoftmaxNode::backward(const Tensor& grad) {
  return {log_softmax_backward(grad, y, dim)};
}

}  // namespace neat
