// Differentiable softmax and log_softmax over one dim: one node for both. Each saves only its
// output: the gradient of either is a function of the output alone
// (docs/softmax_cross_entropy.md).
#include "autograd/nn_functional.h"
#include "tensor/softmax.h"

namespace neat {

namespace {
struct SoftmaxNode : Node {
  bool log = false;  // log_softmax
  int64_t dim = 0;
  Tensor y;
  const char* name() const override { return log ? "log_softmax" : "softmax"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { y = Tensor(); }
};

Variable record_softmax(Tensor y, const Variable& x, int64_t dim, bool log) {
  auto node = std::make_shared<SoftmaxNode>();
  node->log = log;
  node->dim = dim;
  node->y = y;
  return record(std::move(y), std::move(node), {x});
}
}  // namespace

Variable softmax(const Variable& x, int64_t dim) {
  return record_softmax(softmax(x.data(), dim), x, dim, /*log=*/false);
}

Variable log_softmax(const Variable& x, int64_t dim) {
  return record_softmax(log_softmax(x.data(), dim), x, dim, /*log=*/true);
}

// softmax:      y_j = exp(x_j) / sum_k exp(x_k) along dim
//   dx_j = sum_i dy_i dy_i/dx_j = sum_i dy_i y_i (delta_ij - y_j) = y_j (dy_j - sum_i dy_i y_i)
// log_softmax:  y_j = x_j - log sum_k exp(x_k) along dim
//   dy_i/dx_j = delta_ij - softmax_j = delta_ij - exp(y_j),  dx_j = dy_j - exp(y_j) sum_i dy_i
std::vector<Tensor> SoftmaxNode::backward(const Tensor& grad) {
  return {log ? log_softmax_backward(grad, y, dim) : softmax_backward(grad, y, dim)};
}

}  // namespace neat
