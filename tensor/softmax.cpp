// Softmax and log-softmax over one dim, and their backward from the saved output: checks and
// allocation here, the kernels (with the math) in tensor/cpu/softmax.h. A tensor is seen around
// `dim` as [outer, n, inner]. Derivation of the backward: docs/softmax_cross_entropy.md.
// bfloat16 in, bfloat16 out, the max, exps and sums in float32.
#include "tensor/softmax.h"

#include <algorithm>

#include "tensor/cpu/softmax.h"
#include "tensor/cuda/softmax.h"
#include "tensor/dispatch.h"

namespace neat {

namespace {

struct Rows {
  int64_t outer = 1, n = 1, inner = 1;
};

Rows rows_around(const Shape& shape, int64_t dim) {
  Rows rows;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    if (d < dim) rows.outer *= shape[size_t(d)];
    else if (d == dim) rows.n = shape[size_t(d)];
    else rows.inner *= shape[size_t(d)];
  }
  return rows;
}

Tensor forward(const Tensor& x, int64_t dim, bool log_output, const char* op) {
  NEAT_CHECK(x.defined(), op, ": input is undefined");
  const int64_t d = normalize_dim(dim, std::max<int64_t>(x.dim(), 1), op);
  const Rows rows = rows_around(x.shape(), d);
  Tensor y(x.shape(), x.dtype(), x.device());
  dispatch_with_bf16(x, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    softmax_forward(dev, x.data<T>(), y.data<T>(), rows.outer, rows.n, rows.inner, log_output);
  });
  return y;
}

Tensor backward(const Tensor& grad_y, const Tensor& y, int64_t dim, bool log_output,
                const char* op) {
  NEAT_CHECK(grad_y.shape() == y.shape(), op, ": gradient ", shape_str(grad_y.shape()),
             " and output ", shape_str(y.shape()), " differ in shape");
  check_same_dtype(grad_y, y, op);
  const Rows rows = rows_around(y.shape(), normalize_dim(dim, std::max<int64_t>(y.dim(), 1), op));
  Tensor dx(y.shape(), y.dtype(), y.device());
  dispatch_with_bf16({y, grad_y}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    softmax_backward(dev, grad_y.data<T>(), y.data<T>(), dx.data<T>(), rows.outer, rows.n,
                     rows.inner, log_output);
  });
  return dx;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return forward(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return forward(x, dim, true, "log_softmax"); }

Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim) {
  return backward(grad_y, y, dim, false, "softmax_backward");
}
Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim) {
  return backward(grad_y, y, dim, true, "log_softmax_backward");
}

}  // namespace neat
