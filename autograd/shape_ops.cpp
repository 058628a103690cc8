// Differentiable shape ops: each Node, then its forward, then its backward under the math. Each
// backward moves the gradient back the way the forward moved the data; none saves its input.
#include "autograd/shape_ops.h"

namespace neat {

namespace {
struct ReshapeNode : Node {
  const char* name() const override { return "reshape"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable reshape(const Variable& x, const Shape& shape) {
  return record(x.data().reshape(shape), std::make_shared<ReshapeNode>(), {x});
}

// y = x viewed as `shape`:  dx = dy viewed as x's shape
std::vector<Tensor> ReshapeNode::backward(const Tensor& dy) { return {dy.reshape(input_shape(0))}; }

namespace {
struct TransposeNode : Node {
  int64_t dim0 = 0, dim1 = 0;
  const char* name() const override { return "transpose"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable transpose(const Variable& x, int64_t dim0, int64_t dim1) {
  auto node = std::make_shared<TransposeNode>();
  node->dim0 = dim0;
  node->dim1 = dim1;
  return record(transpose(x.data(), dim0, dim1), std::move(node), {x});
}

// y = x with dims dim0 and dim1 swapped:  dx = dy with them swapped back
std::vector<Tensor> TransposeNode::backward(const Tensor& dy) { return {transpose(dy, dim0, dim1)}; }

namespace {
struct PermuteNode : Node {
  std::vector<int64_t> dims;  // normalised (non-negative)
  const char* name() const override { return "permute"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable permute(const Variable& x, const std::vector<int64_t>& dims) {
  Tensor y = permute(x.data(), dims);  // checks dims
  auto node = std::make_shared<PermuteNode>();
  for (int64_t d : dims) node->dims.push_back(normalize_dim(d, x.dim(), "permute"));
  return record(std::move(y), std::move(node), {x});
}

// y dim i = x dim dims[i]:  dx = dy permuted by the inverse permutation
std::vector<Tensor> PermuteNode::backward(const Tensor& dy) {
  return {permute(dy, inverse_permutation(dims))};
}

namespace {
struct NarrowNode : Node {
  int64_t dim = 0, start = 0;
  const char* name() const override { return "narrow"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length) {
  auto node = std::make_shared<NarrowNode>();
  node->dim = dim;
  node->start = start;
  return record(narrow(x.data(), dim, start, length), std::move(node), {x});
}

// y = x[..., start:start+length, ...] along dim:  dx = dy written there, zeros elsewhere
std::vector<Tensor> NarrowNode::backward(const Tensor& dy) {
  return {narrow_backward(dy, input_shape(0), dim, start)};
}

namespace {
struct ConcatNode : Node {
  int64_t dim = 0;  // normalised
  const char* name() const override { return "concat"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable concat(const std::vector<Variable>& parts, int64_t dim) {
  std::vector<Tensor> tensors;
  for (const Variable& p : parts) tensors.push_back(p.data());
  Tensor y = concat(tensors, dim);  // checks parts and dim
  auto node = std::make_shared<ConcatNode>();
  node->dim = normalize_dim(dim, y.dim(), "concat");
  return record(std::move(y), std::move(node), parts);
}

// y = [x_0, x_1, ...] along dim:  dx_i = the slice of dy where x_i was placed
std::vector<Tensor> ConcatNode::backward(const Tensor& dy) {
  std::vector<Tensor> grads(num_inputs());
  int64_t start = 0;
  for (size_t i = 0; i < num_inputs(); ++i) {
    const int64_t length = input_shape(i)[size_t(dim)];
    if (needs_grad(i)) grads[i] = narrow(dy, dim, start, length);
    start += length;
  }
  return grads;
}

namespace {
struct IndexSelectNode : Node {
  int64_t dim = 0;
  Tensor index;  // int64, data rather than an input
  const char* name() const override { return "index_select"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
  void release_saved() override { index = Tensor(); }
};
}  // namespace

Variable index_select(const Variable& x, int64_t dim, const Tensor& index) {
  auto node = std::make_shared<IndexSelectNode>();
  node->dim = dim;
  node->index = index;
  return record(index_select(x.data(), dim, index), std::move(node), {x});
}

// y = x gathered along dim at index:  dx = zeros, then += dy slices at index
// (a row picked twice gets both gradients)
std::vector<Tensor> IndexSelectNode::backward(const Tensor& dy) {
  return {index_add(input_shape(0), dim, index, dy)};
}

namespace {
struct ExpandNode : Node {
  const char* name() const override { return "expand"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable expand(const Variable& x, const Shape& shape) {
  return record(expand(x.data(), shape), std::make_shared<ExpandNode>(), {x});
}

// y = x repeated along the broadcast dims:  dx = dy summed over them (in index order: for a
// [1, 1, D] x these are index_add's sums of the same rows, bit for bit)
std::vector<Tensor> ExpandNode::backward(const Tensor& dy) { return {sum_to(dy, input_shape(0))}; }

}  // namespace neat
