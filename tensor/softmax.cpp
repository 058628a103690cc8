// Softmax and log-softmax over one dim, and their backward from the saved output.
//
// A tensor seen around `dim` is [outer, n, inner]: each of the outer * inner "rows" is n
// values spaced `inner` apart (inner = 1 for the last dim, the common case, so rows are
// contiguous). Rows are independent, so they are spread over the OpenMP threads; the sums
// along a row are `omp simd` reductions (several partial sums in vector lanes, added at the
// end: a fixed order for a given build, so results are reproducible).
//
//   softmax(x)_j     = exp(x_j - m) / sum_k exp(x_k - m),   m = max_k x_k  (m cancels; it
//   log_softmax(x)_j = x_j - m - log sum_k exp(x_k - m)     keeps exp from overflowing)
#include "tensor/softmax.h"

#include "tensor/dispatch.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace neat {

namespace {

// Below this many elements threads cost more than they save.
constexpr int64_t kParallelMin = int64_t(1) << 15;

struct Rows {
  int64_t outer = 1, n = 1, inner = 1;
  int64_t count() const { return outer * inner; }
  // Offset of row r's first element.
  int64_t start(int64_t r) const { return (r / inner) * n * inner + r % inner; }
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

// x, y [outer, n, inner]; y = softmax or log_softmax of x over n.
template <typename T>
void softmax_kernel(const T* x, T* y, Rows rows, bool log_output) {
  const int64_t s = rows.inner;
#pragma omp parallel for schedule(static) if (rows.count() * rows.n >= kParallelMin)
  for (int64_t r = 0; r < rows.count(); ++r) {
    const T* xr = x + rows.start(r);
    T* yr = y + rows.start(r);
    T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < rows.n; ++j) m = std::max(m, xr[j * s]);
    for (int64_t j = 0; j < rows.n; ++j) yr[j * s] = std::exp(xr[j * s] - m);
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < rows.n; ++j) sum += yr[j * s];
    if (log_output) {
      const T log_sum = m + T(std::log(sum));
      for (int64_t j = 0; j < rows.n; ++j) yr[j * s] = xr[j * s] - log_sum;
    } else {
      const T inv = T(1.0 / sum);
      for (int64_t j = 0; j < rows.n; ++j) yr[j * s] *= inv;
    }
  }
}

// dy, y, dx [outer, n, inner].
//   softmax:     dx_j = y_j (dy_j - sum_k dy_k y_k)
//   log_softmax: dx_j = dy_j - exp(y_j) sum_k dy_k
template <typename T>
void softmax_backward_kernel(const T* dy, const T* y, T* dx, Rows rows, bool log_output) {
  const int64_t s = rows.inner;
#pragma omp parallel for schedule(static) if (rows.count() * rows.n >= kParallelMin)
  for (int64_t r = 0; r < rows.count(); ++r) {
    const int64_t o = rows.start(r);
    double dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < rows.n; ++j)
      dot += log_output ? double(dy[o + j * s]) : double(dy[o + j * s]) * y[o + j * s];
    const T d = T(dot);
    for (int64_t j = 0; j < rows.n; ++j) {
      const int64_t i = o + j * s;
      dx[i] = log_output ? dy[i] - std::exp(y[i]) * d : y[i] * (dy[i] - d);
    }
  }
}

Tensor forward(const Tensor& x, int64_t dim, bool log_output, const char* op) {
  NEAT_CHECK(x.defined(), op, ": input is undefined");
  const int64_t d = normalize_dim(dim, std::max<int64_t>(x.dim(), 1), op);
  const Rows rows = rows_around(x.shape(), d);
  Tensor y(x.shape(), x.dtype(), x.device());
  dispatch_floating(x, op, [&](auto zero) {
    using T = decltype(zero);
    softmax_kernel(x.data<T>(), y.data<T>(), rows, log_output);
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
  dispatch_floating(y, op, [&](auto zero) {
    using T = decltype(zero);
    softmax_backward_kernel(grad_y.data<T>(), y.data<T>(), dx.data<T>(), rows, log_output);
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
