// Differentiable shape ops; each Node's backward sits right under its forward. Each backward
// moves the gradient back the way the forward moved the data.
#include "autograd/shape_ops.h"

namespace neat {
namespace {

struct Reshape : Node {
  const char* name() const override { return "reshape"; }
  static Variable forward(const Variable& x, const Shape& shape) {
    return record(x.data().reshape(shape), std::make_shared<Reshape>(), {x});
  }
  // y = x viewed as `shape`:  dx = dy viewed as x's shape
  std::vector<Tensor> backward(const Tensor& dy) override {
    return {needs_grad(0) ? dy.reshape(inputs[0].shape()) : Tensor()};
  }
};

struct Transpose : Node {
  int64_t dim0, dim1;
  Transpose(int64_t dim0, int64_t dim1) : dim0(dim0), dim1(dim1) {}
  const char* name() const override { return "transpose"; }
  static Variable forward(const Variable& x, int64_t dim0, int64_t dim1) {
    return record(transpose(x.data(), dim0, dim1), std::make_shared<Transpose>(dim0, dim1), {x});
  }
  // y = x with dims dim0 and dim1 swapped:  dx = dy with them swapped back
  std::vector<Tensor> backward(const Tensor& dy) override {
    return {needs_grad(0) ? transpose(dy, dim0, dim1) : Tensor()};
  }
};

struct Permute : Node {
  std::vector<int64_t> dims;  // normalised (non-negative)
  explicit Permute(std::vector<int64_t> dims) : dims(std::move(dims)) {}
  const char* name() const override { return "permute"; }
  static Variable forward(const Variable& x, const std::vector<int64_t>& dims) {
    Tensor y = permute(x.data(), dims);  // checks dims
    std::vector<int64_t> normalised;
    for (int64_t d : dims) normalised.push_back(normalize_dim(d, x.dim(), "permute"));
    return record(y, std::make_shared<Permute>(std::move(normalised)), {x});
  }
  // y dim i = x dim dims[i]:  dx = dy permuted by the inverse permutation
  std::vector<Tensor> backward(const Tensor& dy) override {
    return {needs_grad(0) ? permute(dy, inverse_permutation(dims)) : Tensor()};
  }
};

struct Narrow : Node {
  int64_t dim, start;
  Narrow(int64_t dim, int64_t start) : dim(dim), start(start) {}
  const char* name() const override { return "narrow"; }
  static Variable forward(const Variable& x, int64_t dim, int64_t start, int64_t length) {
    return record(narrow(x.data(), dim, start, length), std::make_shared<Narrow>(dim, start), {x});
  }
  // y = x[..., start:start+length, ...] along dim:  dx = dy written there, zeros elsewhere
  std::vector<Tensor> backward(const Tensor& dy) override {
    return {needs_grad(0) ? narrow_backward(dy, inputs[0].shape(), dim, start) : Tensor()};
  }
};

struct Concat : Node {
  int64_t dim;
  explicit Concat(int64_t dim) : dim(dim) {}
  const char* name() const override { return "concat"; }
  static Variable forward(const std::vector<Variable>& parts, int64_t dim) {
    std::vector<Tensor> tensors;
    for (const Variable& p : parts) tensors.push_back(p.data());
    return record(concat(tensors, dim), std::make_shared<Concat>(dim), parts);
  }
  // y = [x_0, x_1, ...] along dim:  dx_i = the slice of dy where x_i was placed
  std::vector<Tensor> backward(const Tensor& dy) override {
    std::vector<Tensor> grads(inputs.size());
    int64_t start = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int64_t length = inputs[i].size(dim);
      if (needs_grad(i)) grads[i] = narrow(dy, dim, start, length);
      start += length;
    }
    return grads;
  }
};

struct IndexSelect : Node {
  int64_t dim;
  Tensor index;  // int64, data rather than an input
  IndexSelect(int64_t dim, Tensor index) : dim(dim), index(std::move(index)) {}
  const char* name() const override { return "index_select"; }
  static Variable forward(const Variable& x, int64_t dim, const Tensor& index) {
    return record(index_select(x.data(), dim, index), std::make_shared<IndexSelect>(dim, index), {x});
  }
  // y = x gathered along dim at index:  dx = zeros, then += dy slices at index
  // (a row picked twice gets both gradients)
  std::vector<Tensor> backward(const Tensor& dy) override {
    if (!needs_grad(0)) return {Tensor()};
    NEAT_CHECK(index.defined(), "index_select: backward through a graph whose saved index was "
               "already freed by an earlier backward; run the forward again");
    return {index_add(inputs[0].shape(), dim, index, dy)};
  }
  void release_saved() override { index = Tensor(); }
};

}  // namespace

Variable reshape(const Variable& x, const Shape& shape) { return Reshape::forward(x, shape); }
Variable transpose(const Variable& x, int64_t dim0, int64_t dim1) {
  return Transpose::forward(x, dim0, dim1);
}
Variable permute(const Variable& x, const std::vector<int64_t>& dims) {
  return Permute::forward(x, dims);
}
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length) {
  return Narrow::forward(x, dim, start, length);
}
Variable concat(const std::vector<Variable>& parts, int64_t dim) { return Concat::forward(parts, dim); }
Variable index_select(const Variable& x, int64_t dim, const Tensor& index) {
  return IndexSelect::forward(x, dim, index);
}

}  // namespace neat
