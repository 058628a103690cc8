// Differentiable reductions; each Node's backward sits right under its forward.
#include "autograd/reduce.h"

#include "tensor/elementwise.h"

namespace neat {
namespace {

struct Sum : Node {
  std::vector<int64_t> dims;
  bool keepdim;
  Sum(std::vector<int64_t> dims, bool keepdim) : dims(std::move(dims)), keepdim(keepdim) {}
  const char* name() const override { return "sum"; }
  static Variable forward(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
    return record(sum(x.data(), dims, keepdim), std::make_shared<Sum>(dims, keepdim), {x});
  }
  // y = sum over dims of x:  dx = dy repeated along the reduced dims
  std::vector<Tensor> backward(const Tensor& dy) override {
    if (!needs_grad(0)) return {Tensor()};
    return {expand_reduced(dy, inputs[0].shape(), dims, keepdim)};
  }
};

struct Mean : Node {
  std::vector<int64_t> dims;
  bool keepdim;
  Mean(std::vector<int64_t> dims, bool keepdim) : dims(std::move(dims)), keepdim(keepdim) {}
  const char* name() const override { return "mean"; }
  static Variable forward(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
    return record(mean(x.data(), dims, keepdim), std::make_shared<Mean>(dims, keepdim), {x});
  }
  // y = sum over dims of x / count:  dx = dy / count repeated along the reduced dims,
  // where 1 / count = numel(y) / numel(x)
  std::vector<Tensor> backward(const Tensor& dy) override {
    if (!needs_grad(0)) return {Tensor()};
    const Shape& shape = inputs[0].shape();
    const int64_t n = shape_numel(shape);
    const double inv_count = n == 0 ? 0.0 : double(dy.numel()) / double(n);
    return {expand_reduced(mul_scalar(dy, inv_count), shape, dims, keepdim)};
  }
};

struct Max : Node {
  int64_t dim;
  bool keepdim;
  Tensor indices;  // argmax positions, int64, the shape of y
  Max(int64_t dim, bool keepdim) : dim(dim), keepdim(keepdim) {}
  const char* name() const override { return "max"; }
  static Variable forward(const Variable& x, int64_t dim, bool keepdim) {
    MaxResult result = max(x.data(), dim, keepdim);
    auto node = std::make_shared<Max>(dim, keepdim);
    node->indices = result.indices;
    return record(result.values, node, {x});
  }
  // y = max over dim of x:  dx = dy at the (first) argmax of each slice, 0 elsewhere
  std::vector<Tensor> backward(const Tensor& dy) override {
    if (!needs_grad(0)) return {Tensor()};
    NEAT_CHECK(indices.defined(), "max: backward through a graph whose saved indices were already "
               "freed by an earlier backward; run the forward again");
    return {max_backward(dy, indices, inputs[0].shape(), dim, keepdim)};
  }
  void release_saved() override { indices = Tensor(); }
};

}  // namespace

Variable sum(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  return Sum::forward(x, dims, keepdim);
}
Variable mean(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  return Mean::forward(x, dims, keepdim);
}
Variable max(const Variable& x, int64_t dim, bool keepdim) { return Max::forward(x, dim, keepdim); }

}  // namespace neat
