// CPU kernels of the fused layer norm over the last dim: two passes per row forward (the sums,
// then y), three per row backward (g = dy w, the sums, dx); add_layer_norm_forward adds the
// residual first in the same row loop. The derivation of the backward,
// from the forward formula to this code: docs/layer_norm.md.
//
//   x, y, dy, dx [rows, D] (all leading dims fold into rows), w, b, dw, db [D], mean, rstd [rows]
//   forward:   mean = sum_j x_j / D      var = sum_j (x_j - mean)^2 / D (biased, as PyTorch)
//              rstd = 1 / sqrt(var + eps)      xhat_j = (x_j - mean) rstd      y_j = xhat_j w_j + b_j
//   backward:  g_j = dy_j w_j
//              dx_j = rstd (g_j - mean_k g_k - xhat_j mean_k(g_k xhat_k))
//              dw_j = sum over rows of dy_j xhat_j      db_j = sum over rows of dy_j
// A row's sums are accumulated in double, in kRowSumLanes partial sums (value j goes to lane
// j mod 8) added by one fixed tree: a vector's worth of independent chains, in one order on
// every build, whatever its vector width. The elementwise passes (y, dx) run in math_t<T> (T
// itself, as PyTorch's do; float32 for bfloat16, whose x, y, w, b, dy, dx are stored in bf16 and
// rounded once as stored), and mean, rstd are math_t<T> (float32 for bf16 rows, as PyTorch keeps
// them). dw and db are double sums rounded once to T. Backward keeps only mean and rstd from
// the forward and recomputes xhat, so no [rows, D] tensor is saved besides x itself. w and b
// may be null (no affine parameters).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensor/cpu/device.h"
#include "tensor/half.h"

namespace neat::cpu {

// dw and db are sums over rows. Rows are cut into at most this many chunks (a number that
// does not depend on the thread count), each chunk sums into its own buffer, and the buffers
// are added in chunk order: the result is the same bits on any number of threads.
constexpr int64_t kLayerNormMaxChunks = 32;

// A row's two sums in double, sum_j terms(j).first and sum_j terms(j).second, over
// kRowSumLanes partial sums.
constexpr int kRowSumLanes = 8;
static_assert(kRowSumLanes == 8, "row_sums' tree adds exactly 8 lanes");
template <typename Terms>
inline void row_sums(int64_t D, Terms terms, double* sum1, double* sum2) {
  double a1[kRowSumLanes] = {}, a2[kRowSumLanes] = {};
  const int64_t full = D - D % kRowSumLanes;
  for (int64_t j = 0; j < full; j += kRowSumLanes)
#pragma omp simd
    for (int l = 0; l < kRowSumLanes; ++l) {
      const std::pair<double, double> t = terms(j + l);
      a1[l] += t.first;
      a2[l] += t.second;
    }
  for (int64_t j = full; j < D; ++j) {
    const std::pair<double, double> t = terms(j);
    a1[j - full] += t.first;
    a2[j - full] += t.second;
  }
  auto tree = [](const double* a) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
  };
  *sum1 = tree(a1);
  *sum2 = tree(a2);
}

// One row: y [D] = layer_norm(x [D]), its mean and rstd.
template <typename T>
inline void layer_norm_row(const T* xr, const T* w, const T* b, T* yr, math_t<T>* mean,
                           math_t<T>* rstd, int64_t D, double eps) {
  using M = math_t<T>;
  // mean and var from one pass over c_j = x_j - x_0: two independent sums in one loop, where
  // sum-then-squares took two loops of one dependent chain each (a row is only D / W vectors
  // long, so the chains' latency was the time). Shifted by x_0, the cancellation in var costs
  // a relative (mean - x_0)^2 / var times double's epsilon:
  //   mean = x_0 + S1 / D,   var = (S2 - S1^2 / D) / D,   S1 = sum c_j,   S2 = sum c_j^2
  const double shift = double(M(xr[0]));
  double s1, s2;
  row_sums(D, [&](int64_t j) {
    const double c = double(M(xr[j])) - shift;
    return std::pair<double, double>(c, c * c);
  }, &s1, &s2);
  const double mu = shift + s1 / double(D);
  const double var = std::max(0.0, (s2 - s1 * s1 / double(D)) / double(D));  // >= 0 in rounding
  const double rs = 1.0 / std::sqrt(var + eps);
  const M mu_t = M(mu), rs_t = M(rs);
  *mean = mu_t;
  *rstd = rs_t;
  if (w && b) {
#pragma omp simd
    for (int64_t j = 0; j < D; ++j) yr[j] = T((M(xr[j]) - mu_t) * rs_t * M(w[j]) + M(b[j]));
  } else {
    for (int64_t j = 0; j < D; ++j)
      yr[j] = T((M(xr[j]) - mu_t) * rs_t * (w ? M(w[j]) : M(1)) + (b ? M(b[j]) : M(0)));
  }
}

template <typename T>
void layer_norm_forward(Cpu, const T* x, const T* w, const T* b, T* y, math_t<T>* mean,
                        math_t<T>* rstd, int64_t rows, int64_t D, double eps) {
#pragma omp parallel for schedule(static) if (rows * D >= kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r)
    layer_norm_row(x + r * D, w, b, y + r * D, mean + r, rstd + r, D, eps);
}

// The residual add fused in (tensor/layer_norm.h add_layer_norm_forward): per row, h = x +
// residual (rounded to T as add stores it), then the row's layer norm from h while it is in
// cache. The same bits as add, then layer_norm_forward.
//   x, residual, h, y [rows, D]
template <typename T>
void add_layer_norm_forward(Cpu, const T* x, const T* residual, const T* w, const T* b, T* h,
                            T* y, math_t<T>* mean, math_t<T>* rstd, int64_t rows, int64_t D,
                            double eps) {
  using M = math_t<T>;
#pragma omp parallel for schedule(static) if (rows * D >= kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    const T* rr = residual + r * D;
    T* hr = h + r * D;
#pragma omp simd
    for (int64_t j = 0; j < D; ++j) hr[j] = T(M(xr[j]) + M(rr[j]));
    layer_norm_row(hr, w, b, y + r * D, mean + r, rstd + r, D, eps);
  }
}

// dx, dw, db may each be null (not needed); w may be null (= 1).
template <typename T>
void layer_norm_backward(Cpu, const T* dy, const T* x, const T* w, const math_t<T>* mean,
                         const math_t<T>* rstd, T* dx, T* dw, T* db, int64_t rows, int64_t D) {
  using M = math_t<T>;
  const int64_t chunks = std::min(rows, kLayerNormMaxChunks);
  const bool sums = dw || db;
  std::vector<double> partial(sums ? size_t(chunks * 2 * D) : 0, 0.0);  // per chunk: dw, db
  // g = dy w of one row in M: in dx's own buffer when T is M, else in a buffer of the thread's
  // (a g rounded to 16 bits would cost the sums their float32 precision).
  constexpr bool g_in_dx = std::is_same_v<T, M>;
#pragma omp parallel for schedule(static) if (rows * D >= kParallelThreshold)
  for (int64_t c = 0; c < chunks; ++c) {
    double* pw = sums ? partial.data() + c * 2 * D : nullptr;
    double* pb = sums ? pw + D : nullptr;
    std::vector<M> g_row(dx && !g_in_dx ? size_t(D) : 0);
    for (int64_t r = rows * c / chunks; r < rows * (c + 1) / chunks; ++r) {
      const T* dyr = dy + r * D;
      const T* xr = x + r * D;
      const M mu = mean[r], rs = rstd[r];
      if (dx) {
        // g_j = dy_j w_j is written to a buffer first and read back by both passes, so that the
        // sums and the dx pass see the same rounded g_j (computed twice, the dx pass's dy_j w_j -
        // mean_g could be contracted to one fused multiply-add, and differ). A row whose xhat
        // is 0 (D = 1, or all values equal) then gets dx = 0 exactly, as on the GPU.
        T* dxr = dx + r * D;
        const M* g;
        if constexpr (g_in_dx) {
          if (w)
#pragma omp simd
            for (int64_t j = 0; j < D; ++j) dxr[j] = dyr[j] * w[j];
          g = w ? dxr : dyr;
        } else {
          M* gbuf = g_row.data();
          if (w)
#pragma omp simd
            for (int64_t j = 0; j < D; ++j) gbuf[j] = M(dyr[j]) * M(w[j]);
          else
            for (int64_t j = 0; j < D; ++j) gbuf[j] = M(dyr[j]);
          g = gbuf;
        }
        double sum_g, sum_gx;
        row_sums(D, [&](int64_t j) {
          return std::pair<double, double>(g[j], double(g[j]) * double((M(xr[j]) - mu) * rs));
        }, &sum_g, &sum_gx);
        const M mean_g = M(sum_g / double(D)), mean_gx = M(sum_gx / double(D));
#pragma omp simd
        for (int64_t j = 0; j < D; ++j)
          dxr[j] = T(rs * (g[j] - mean_g - (M(xr[j]) - mu) * rs * mean_gx));
      }
      if (dw)
        for (int64_t j = 0; j < D; ++j)
          pw[j] += double(M(dyr[j])) * double((M(xr[j]) - mu) * rs);
      if (db)
        for (int64_t j = 0; j < D; ++j) pb[j] += double(M(dyr[j]));
    }
  }
  for (int64_t j = 0; j < D && sums; ++j) {
    double sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += partial[size_t(c * 2 * D + j)];
      sb += partial[size_t(c * 2 * D + D + j)];
    }
    if (dw) dw[j] = T(sw);
    if (db) db[j] = T(sb);
  }
}

}  // namespace neat::cpu
