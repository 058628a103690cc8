// Reductions: normalise the dims, view the input as [outer, R, inner] per block of consecutive
// reduced dims, and run the kernels in tensor/cpu/reduce.h or tensor/cuda/reduce.h.
#include "tensor/reduce.h"

#include <algorithm>

#include "tensor/cpu/reduce.h"
#include "tensor/cuda/reduce.h"
#include "tensor/dispatch.h"
#include "tensor/elementwise.h"

namespace neat {

// Sorted, distinct, non-negative dims; all dims when `dims` is empty.
static std::vector<int64_t> reduced_dims(const std::vector<int64_t>& dims, int64_t rank, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < rank; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(normalize_dim(d, rank, op));
  std::sort(out.begin(), out.end());
  NEAT_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": dims ",
             shape_str(dims), " name a dim twice");
  return out;
}

// The shape after reducing `dims` (already normalised): size 1 there, or dropped.
static Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced) out.push_back(shape[size_t(d)]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// x viewed as [outer, R, inner] around the dims [begin, end).
struct Split {
  int64_t outer = 1, R = 1, inner = 1;
};
static Split split_at(const Shape& shape, int64_t begin, int64_t end) {
  Split s;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d)
    (d < begin ? s.outer : d < end ? s.R : s.inner) *= shape[size_t(d)];
  return s;
}

// sum over dims times scale (mean's 1 / count), applied before the result's one rounding.
// One pass per block of consecutive reduced dims (usually there is one block), keeping dims so
// that the block boundaries stay valid; the scale goes to the last pass. A bfloat16 input with
// more than one block is summed in float32 and rounded at the end, never between passes.
static Tensor scaled_sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                         double scale, const char* op) {
  const std::vector<int64_t> reduced = reduced_dims(dims, x.dim(), op);
  size_t blocks = 0;
  for (size_t i = 0; i < reduced.size(); ++i) blocks += i == 0 || reduced[i] != reduced[i - 1] + 1;
  if (blocks > 1 && x.dtype() == DType::BFloat16)
    return scaled_sum(x.to(DType::Float32), dims, keepdim, scale, op).to(DType::BFloat16);
  Tensor current = x;
  for (size_t i = 0; i < reduced.size();) {
    size_t j = i + 1;
    while (j < reduced.size() && reduced[j] == reduced[j - 1] + 1) ++j;
    const Split s = split_at(current.shape(), reduced[i], reduced[j - 1] + 1);
    Shape shape = current.shape();
    for (size_t k = i; k < j; ++k) shape[size_t(reduced[k])] = 1;
    Tensor out(shape, x.dtype(), x.device());
    const double pass_scale = j == reduced.size() ? scale : 1.0;
    dispatch_all_dtypes_with_bf16(current, op, [&](auto dev, auto zero) {
      using T = decltype(zero);
      sum_kernel(dev, out.data<T>(), current.data<T>(), s.outer, s.R, s.inner,
                 math_t<T>(pass_scale));
    });
    current = out;
    i = j;
  }
  // A 0-d input has no dims to reduce: still return a fresh tensor, never x itself.
  if (current.is_same(x)) current = x.clone();
  return current.reshape(reduced_shape(x.shape(), reduced, keepdim));
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return scaled_sum(x, dims, keepdim, 1.0, "sum");
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_float(x, "mean");
  const std::vector<int64_t> reduced = reduced_dims(dims, x.dim(), "mean");
  int64_t count = 1;
  for (int64_t d : reduced) count *= x.shape()[size_t(d)];
  return scaled_sum(x, dims, keepdim, 1.0 / double(count), "mean");
}

MaxResult max(const Tensor& x, int64_t dim, bool keepdim) {
  const int64_t d = normalize_dim(dim, x.dim(), "max");
  NEAT_CHECK(x.shape()[size_t(d)] > 0, "max: dim ", dim, " of ", shape_str(x.shape()), " is empty");
  const Split s = split_at(x.shape(), d, d + 1);
  const Shape shape = reduced_shape(x.shape(), {d}, keepdim);
  MaxResult result{Tensor(shape, x.dtype(), x.device()), Tensor(shape, DType::Int64, x.device())};
  dispatch_all_dtypes_with_bf16(x, "max", [&](auto dev, auto zero) {
    using T = decltype(zero);
    max_kernel(dev, result.values.data<T>(), result.indices.data<int64_t>(), x.data<T>(), s.outer,
               s.R, s.inner);
  });
  return result;
}

Tensor max_backward(const Tensor& grad_values, const Tensor& indices, const Shape& input_shape,
                    int64_t dim, bool keepdim) {
  const int64_t d = normalize_dim(dim, int64_t(input_shape.size()), "max_backward");
  const Shape expected = reduced_shape(input_shape, {d}, keepdim);
  NEAT_CHECK(grad_values.shape() == expected && indices.shape() == expected,
             "max_backward: gradient ", shape_str(grad_values.shape()), " and indices ",
             shape_str(indices.shape()), " do not fit input ", shape_str(input_shape),
             " reduced over dim ", dim);
  const Split s = split_at(input_shape, d, d + 1);
  Tensor dx(input_shape, grad_values.dtype(), grad_values.device());
  dispatch_with_bf16({grad_values, indices}, "max_backward", [&](auto dev, auto zero) {
    using T = decltype(zero);
    max_backward_kernel(dev, dx.data<T>(), grad_values.data<T>(), indices.data<int64_t>(),
                        s.outer, s.R, s.inner);
  });
  return dx;
}

Tensor argmax(const Tensor& x, int64_t dim) { return max(x, dim, false).indices; }

Tensor squared_norm(const std::vector<Tensor>& tensors) {
  NEAT_CHECK(!tensors.empty(), "squared_norm: no tensors");
  const Tensor& first = tensors.front();
  NEAT_CHECK(first.defined(), "squared_norm: tensor 0 is undefined");
  Tensor total = zeros({}, DType::Float64, first.device());
  for (const Tensor& t : tensors) {
    dispatch_with_bf16({t, first}, "squared_norm", [&](auto dev, auto zero) {
      using T = decltype(zero);
      add_sum_of_squares(dev, t.data<T>(), t.numel(), total.data<double>());
    });
  }
  return total;
}

Tensor expand_reduced(const Tensor& grad, const Shape& shape, const std::vector<int64_t>& dims,
                      bool keepdim) {
  const std::vector<int64_t> reduced = reduced_dims(dims, int64_t(shape.size()), "expand_reduced");
  const Shape kept = reduced_shape(shape, reduced, /*keepdim=*/true);
  NEAT_CHECK(grad.shape() == reduced_shape(shape, reduced, keepdim), "expand_reduced: gradient ",
             shape_str(grad.shape()), " does not fit ", shape_str(shape), " reduced over ",
             shape_str(dims));
  return expand(grad.reshape(kept), shape);
}

}  // namespace neat
