// Differentiable reductions: each Node, then its forward, then its backward under the math.
// None saves its input: the gradient needs only the input's shape (max also its argmax).
#include "autograd/reduce.h"

#include "tensor/elementwise.h"

namespace neat {

namespace {
struct SumNode : Node {
  std::vector<int64_t> dims;
  bool keepdim = false;
  const char* name() const override { return "sum"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable sum(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  auto node = std::make_shared<SumNode>();
  node->dims = dims;
  node->keepdim = keepdim;
  return record(sum(x.data(), dims, keepdim), std::move(node), {x});
}

// y = sum over dims of x:  dx = dy repeated along the reduced dims
std::vector<Tensor> SumNode::backward(const Tensor& dy) {
  return {expand_reduced(dy, input_shape(0), dims, keepdim)};
}

namespace {
struct MeanNode : Node {
  std::vector<int64_t> dims;
  bool keepdim = false;
  const char* name() const override { return "mean"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable mean(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  auto node = std::make_shared<MeanNode>();
  node->dims = dims;
  node->keepdim = keepdim;
  return record(mean(x.data(), dims, keepdim), std::move(node), {x});
}

// y = sum over dims of x / count:  dx = dy / count repeated along the reduced dims,
// where 1 / count = numel(y) / numel(x)
std::vector<Tensor> MeanNode::backward(const Tensor& dy) {
  const Shape& shape = input_shape(0);
  const int64_t n = shape_numel(shape);
  const double inv_count = n == 0 ? 0.0 : double(dy.numel()) / double(n);
  return {expand_reduced(mul_scalar(dy, inv_count), shape, dims, keepdim)};
}

namespace {
struct MaxNode : Node {
  int64_t dim = 0;
  bool keepdim = false;
  Tensor indices;  // argmax positions, int64, the shape of y
  const char* name() const override { return "max"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
  void release_saved() override { indices = Tensor(); }
};
}  // namespace

Variable max(const Variable& x, int64_t dim, bool keepdim) {
  MaxResult result = max(x.data(), dim, keepdim);
  auto node = std::make_shared<MaxNode>();
  node->dim = dim;
  node->keepdim = keepdim;
  node->indices = result.indices;
  return record(result.values, std::move(node), {x});
}

// y = max over dim of x:  dx = dy at the (first) argmax of each slice, 0 elsewhere
std::vector<Tensor> MaxNode::backward(const Tensor& dy) {
  return {max_backward(dy, indices, input_shape(0), dim, keepdim)};
}

}  // namespace neat
