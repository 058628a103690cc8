#include "tensor/sparse_idft2.h"

#include <unordered_map>
#include <unordered_set>

#include "tensor/cpu/sparse_idft2.h"
#include "tensor/cuda/sparse_idft2.h"
#include "tensor/dispatch.h"
#include "tensor/matmul.h"

namespace neat {

SpectrumPositions spectrum_positions(const Tensor& rows, const Tensor& cols, int64_t out_features,
                                     int64_t in_features) {
  NEAT_CHECK(rows.dtype() == DType::Int64 && cols.dtype() == DType::Int64 && rows.dim() == 1 &&
                 rows.shape() == cols.shape(),
             "spectrum_positions: rows and cols must be int64 [n], got ", shape_str(rows.shape()),
             " and ", shape_str(cols.shape()));
  NEAT_CHECK(out_features >= 1 && in_features >= 1, "spectrum_positions: bad size ", out_features,
             " x ", in_features);
  SpectrumPositions p;
  p.out_features = out_features;
  p.in_features = in_features;
  p.rows = rows;
  p.cols = cols;
  // The grouping is done on the host, once per layer; its results go to rows' device.
  const std::vector<int64_t> row_of = rows.to_vector<int64_t>(), col_of = cols.to_vector<int64_t>();
  const int64_t n = rows.numel();
  std::vector<int64_t> slot(static_cast<size_t>(n));
  std::unordered_map<int64_t, int64_t> slot_of;
  std::unordered_set<int64_t> seen;
  std::vector<int64_t> distinct;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t u = row_of[size_t(k)], v = col_of[size_t(k)];
    NEAT_CHECK(u >= 0 && u < out_features && v >= 0 && v < in_features,
               "spectrum_positions: position (", u, ", ", v, ") outside ", out_features, " x ",
               in_features);
    NEAT_CHECK(seen.insert(u * in_features + v).second, "spectrum_positions: position (", u, ", ",
               v, ") appears twice");
    auto it = slot_of.find(u);
    if (it == slot_of.end()) {
      it = slot_of.emplace(u, int64_t(distinct.size())).first;
      distinct.push_back(u);
    }
    slot[size_t(k)] = it->second;
  }
  p.slot = from_vector(slot, {n}).to(rows.device());
  p.distinct_rows = from_vector(distinct, {int64_t(distinct.size())}).to(rows.device());
  return p;
}

// basis [O, 2U] with the 1/(O I) normalisation of the inverse DFT folded in, like `like`.
static Tensor row_basis(const SpectrumPositions& p, const Tensor& like) {
  const int64_t slots = p.distinct_rows.numel();
  Tensor basis({p.out_features, 2 * slots}, like.dtype(), like.device());
  dispatch({basis, p.distinct_rows}, "sparse_idft2_real", [&](auto dev, auto zero) {
    using T = decltype(zero);
    idft_row_basis(dev, p.distinct_rows.data<int64_t>(), slots, p.out_features,
                   1.0 / double(p.out_features * p.in_features), basis.data<T>());
  });
  return basis;
}

Tensor sparse_idft2_real(const Tensor& coef, const SpectrumPositions& p) {
  check_float(coef, "sparse_idft2_real");
  NEAT_CHECK(coef.dim() == 1 && coef.numel() == p.count(), "sparse_idft2_real: coef ",
             shape_str(coef.shape()), " but ", p.count(), " positions");
  const int64_t slots = p.distinct_rows.numel();
  if (slots == 0) return zeros({p.out_features, p.in_features}, coef.dtype(), coef.device());
  Tensor t({2 * slots, p.in_features}, coef.dtype(), coef.device());
  dispatch({coef, p.slot, p.cols}, "sparse_idft2_real", [&](auto dev, auto zero) {
    using T = decltype(zero);
    sparse_idft_rows(dev, coef.data<T>(), p.slot.data<int64_t>(), p.cols.data<int64_t>(),
                     p.count(), slots, p.in_features, t.data<T>());
  });
  return matmul(row_basis(p, coef), t);
}

Tensor sparse_idft2_real_backward(const Tensor& grad, const SpectrumPositions& p) {
  check_float(grad, "sparse_idft2_real_backward");
  NEAT_CHECK(grad.shape() == Shape({p.out_features, p.in_features}),
             "sparse_idft2_real_backward: grad ", shape_str(grad.shape()), " but the spectrum is ",
             p.out_features, " x ", p.in_features);
  const int64_t slots = p.distinct_rows.numel();
  Tensor dcoef = zeros({p.count()}, grad.dtype(), grad.device());
  if (slots == 0) return dcoef;
  Tensor r = matmul(row_basis(p, grad), grad, /*trans_a=*/true);   // [2U, I]
  dispatch({r, p.slot, p.cols}, "sparse_idft2_real_backward", [&](auto dev, auto zero) {
    using T = decltype(zero);
    sparse_idft_rows_adjoint(dev, r.data<T>(), p.slot.data<int64_t>(), p.cols.data<int64_t>(),
                             p.count(), slots, p.in_features, dcoef.data<T>());
  });
  return dcoef;
}

}  // namespace neat
