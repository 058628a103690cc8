// Plain-loop references for the op tests (tests/test_ops.cpp, test_matmul.cpp): each computes
// an op's forward in float64 element by element, from the definition, sharing no code with the
// engine's kernels (only Tensor's at / set / flat, and raw ops where a composition is the
// definition, as attention's).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tensor/elementwise.h"
#include "tensor/matmul.h"
#include "tensor/softmax.h"
#include "tensor/tensor.h"

namespace neat::test {

using Index = std::vector<int64_t>;

inline Index unravel(int64_t flat, const Shape& shape) {
  Index index(shape.size());
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    index[size_t(d)] = flat % shape[size_t(d)];
    flat /= shape[size_t(d)];
  }
  return index;
}

// A float64 tensor of shape whose element at index is value(index).
inline Tensor tabulate(const Shape& shape, const std::function<double(const Index&)>& value) {
  Tensor t = zeros(shape, DType::Float64);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = value(unravel(i, shape));
  return t;
}

// The element of x that broadcasting reads for output index out (x's dims aligned right,
// size-1 dims repeated).
inline double broadcast_at(const Tensor& x, const Index& out) {
  Index index(size_t(x.dim()));
  const size_t lead = out.size() - size_t(x.dim());
  for (size_t d = 0; d < index.size(); ++d) index[d] = x.size(int64_t(d)) == 1 ? 0 : out[lead + d];
  return x.at(index);
}

inline Shape broadcast_shape(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t d = 0; d < out.size(); ++d) {
    const int64_t da = d < out.size() - a.size() ? 1 : a[d - (out.size() - a.size())];
    const int64_t db = d < out.size() - b.size() ? 1 : b[d - (out.size() - b.size())];
    out[d] = std::max(da, db);
  }
  return out;
}

inline int64_t wrap(int64_t dim, int64_t rank) { return dim < 0 ? dim + rank : dim; }

// Reduces x over dims with combine, starting each output element from start.
inline Tensor reduce_loop(const Tensor& x, Index dims, bool keepdim, double start,
                          double (*combine)(double, double)) {
  std::set<int64_t> reduced;
  for (int64_t d : dims) reduced.insert(wrap(d, x.dim()));
  if (dims.empty())
    for (int64_t d = 0; d < x.dim(); ++d) reduced.insert(d);
  Shape out_shape;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!reduced.count(d))
      out_shape.push_back(x.size(d));
    else if (keepdim)
      out_shape.push_back(1);
  Tensor out = full(out_shape, start, DType::Float64);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const Index in = unravel(i, x.shape());
    Index o;
    for (int64_t d = 0; d < x.dim(); ++d)
      if (!reduced.count(d))
        o.push_back(in[size_t(d)]);
      else if (keepdim)
        o.push_back(0);
    out.set(o, combine(out.at(o), x.flat(i)));
  }
  return out;
}

// Element (i, j) of op(x) for matrix number m of x's batch, x stored [.., rows, cols].
inline double matrix_at(const Tensor& x, const Index& batch, int64_t i, int64_t j, bool trans) {
  Index index(size_t(x.dim()));
  const size_t lead = batch.size() - size_t(x.dim() - 2);
  for (size_t d = 0; d + 2 < index.size(); ++d)
    index[d] = x.size(int64_t(d)) == 1 ? 0 : batch[lead + d];
  index[index.size() - 2] = trans ? j : i;
  index[index.size() - 1] = trans ? i : j;
  return x.at(index);
}

inline Tensor matmul_loop(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const Shape a_batch(a.shape().begin(), a.shape().end() - 2),
      b_batch(b.shape().begin(), b.shape().end() - 2);
  Shape out = broadcast_shape(a_batch, b_batch);
  const int64_t M = ta ? a.size(-1) : a.size(-2), K = ta ? a.size(-2) : a.size(-1);
  const int64_t N = tb ? b.size(-2) : b.size(-1);
  out.push_back(M);
  out.push_back(N);
  return tabulate(out, [&](const Index& i) {
    const Index batch(i.begin(), i.end() - 2);
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
      s += matrix_at(a, batch, i[i.size() - 2], k, ta) * matrix_at(b, batch, k, i.back(), tb);
    return s;
  });
}

// softmax (or its log) of x along dim, element by element.
inline Tensor softmax_loop(const Tensor& x, int64_t dim, bool log) {
  dim = wrap(dim, x.dim());
  return tabulate(x.shape(), [&](const Index& i) {
    Index j = i;
    double top = -INFINITY, total = 0;
    for (j[size_t(dim)] = 0; j[size_t(dim)] < x.size(dim); ++j[size_t(dim)])
      top = std::max(top, x.at(j));
    for (j[size_t(dim)] = 0; j[size_t(dim)] < x.size(dim); ++j[size_t(dim)])
      total += std::exp(x.at(j) - top);
    const double z = x.at(i) - top;
    return log ? z - std::log(total) : std::exp(z) / total;
  });
}

inline Tensor layer_norm_loop(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  const int64_t D = x.size(-1);
  return tabulate(x.shape(), [&](const Index& i) {
    Index j = i;
    double mean = 0, var = 0;
    for (j.back() = 0; j.back() < D; ++j.back()) mean += x.at(j) / double(D);
    for (j.back() = 0; j.back() < D; ++j.back())
      var += (x.at(j) - mean) * (x.at(j) - mean) / double(D);
    const double y = (x.at(i) - mean) / std::sqrt(var + eps);
    return y * (w.defined() ? w.flat(i.back()) : 1.0) + (b.defined() ? b.flat(i.back()) : 0.0);
  });
}

// x / sqrt(mean(x^2) + eps) * w over the last dim.
inline Tensor rms_norm_loop(const Tensor& x, const Tensor& w, double eps) {
  const int64_t D = x.size(-1);
  return tabulate(x.shape(), [&](const Index& i) {
    Index j = i;
    double ms = 0;
    for (j.back() = 0; j.back() < D; ++j.back()) ms += x.at(j) * x.at(j) / double(D);
    return x.at(i) / std::sqrt(ms + eps) * w.flat(i.back());
  });
}

// mean over rows of -(1 - s) log p[label] - (s / C) sum_c log p[c]
inline Tensor cross_entropy_loop(const Tensor& logits, const Tensor& labels, double smoothing) {
  const Tensor logp = softmax_loop(logits, 1, true);
  const int64_t N = logits.size(0), C = logits.size(1);
  double loss = 0;
  for (int64_t n = 0; n < N; ++n) {
    double all = 0;
    for (int64_t c = 0; c < C; ++c) all += logp.at({n, c});
    loss += -(1 - smoothing) * logp.at({n, int64_t(labels.flat(n))}) - smoothing / double(C) * all;
  }
  return full({}, loss / double(N), DType::Float64);
}

// softmax(q k^T / sqrt(d) + mask) v from raw tensor ops.
inline Tensor attention_composed(const Tensor& q, const Tensor& k, const Tensor& v,
                                 const Tensor& mask) {
  Tensor scores = mul_scalar(matmul(q, k, false, true), 1.0 / std::sqrt(double(q.size(-1))));
  if (mask.defined()) scores = add(scores, mask);
  return matmul(softmax(scores, -1), v);
}

}  // namespace neat::test
