// CPU kernels of the fused RMS norm over the last dim: one sum per row forward (of x^2), one per
// row backward (of g xhat). The derivation of the backward: docs/llama.md.
//
//   x, y, dy, dx [rows, D] (all leading dims fold into rows), w, dw [D], rstd [rows]
//   forward:   rstd = 1 / sqrt(sum_j x_j^2 / D + eps)      xhat_j = x_j rstd      y_j = xhat_j w_j
//   backward:  g_j = dy_j w_j
//              dx_j = rstd (g_j - xhat_j mean_k(g_k xhat_k))
//              dw_j = sum over rows of dy_j xhat_j
// The row sums are layer norm's (row_sums: double, kRowSumLanes lanes, one fixed tree), and dw
// is summed in kLayerNormMaxChunks chunks added in order, so the results are the same bits on
// any number of threads. Backward keeps only rstd from the forward and recomputes xhat. As in
// layer norm, the elementwise math is in math_t<T> (float32 for bfloat16 x, y, w, dy, dx, dw),
// and rstd is math_t<T>.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensor/cpu/device.h"
#include "tensor/cpu/layer_norm.h"
#include "tensor/half.h"

namespace neat::cpu {

template <typename T>
void rms_norm_forward(Cpu, const T* x, const T* w, T* y, math_t<T>* rstd, int64_t rows, int64_t D,
                      double eps) {
  using M = math_t<T>;
#pragma omp parallel for schedule(static) if (rows * D >= kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    double s2, unused;
    row_sums(D, [&](int64_t j) {
      const double v = double(M(xr[j]));
      return std::pair<double, double>(v * v, 0.0);
    }, &s2, &unused);
    const M rs = M(1.0 / std::sqrt(s2 / double(D) + eps));
    rstd[r] = rs;
#pragma omp simd
    for (int64_t j = 0; j < D; ++j) yr[j] = T(M(xr[j]) * rs * M(w[j]));
  }
}

// dx and dw may each be null (not needed).
template <typename T>
void rms_norm_backward(Cpu, const T* dy, const T* x, const T* w, const math_t<T>* rstd, T* dx,
                       T* dw, int64_t rows, int64_t D) {
  using M = math_t<T>;
  constexpr bool g_in_dx = std::is_same_v<T, M>;   // else g in a buffer of the thread's
  const int64_t chunks = std::min(rows, kLayerNormMaxChunks);
  std::vector<double> partial(dw ? size_t(chunks * D) : 0, 0.0);  // per chunk: dw
#pragma omp parallel for schedule(static) if (rows * D >= kParallelThreshold)
  for (int64_t c = 0; c < chunks; ++c) {
    double* pw = dw ? partial.data() + c * D : nullptr;
    std::vector<M> g_row(dx && !g_in_dx ? size_t(D) : 0);
    for (int64_t r = rows * c / chunks; r < rows * (c + 1) / chunks; ++r) {
      const T* dyr = dy + r * D;
      const T* xr = x + r * D;
      const M rs = rstd[r];
      if (dx) {
        T* dxr = dx + r * D;
        // g_j = dy_j w_j written to a buffer first and read back by both passes (as layer
        // norm's): dx itself when T is M.
        M* g;
        if constexpr (g_in_dx) g = dxr;
        else g = g_row.data();
#pragma omp simd
        for (int64_t j = 0; j < D; ++j) g[j] = M(dyr[j]) * M(w[j]);
        double sum_gx, unused;
        row_sums(D, [&](int64_t j) {
          return std::pair<double, double>(double(g[j]) * double(M(xr[j]) * rs), 0.0);
        }, &sum_gx, &unused);
        const M mean_gx = M(sum_gx / double(D));
#pragma omp simd
        for (int64_t j = 0; j < D; ++j) dxr[j] = T(rs * (g[j] - M(xr[j]) * rs * mean_gx));
      }
      if (dw)
        for (int64_t j = 0; j < D; ++j) pw[j] += double(M(dyr[j])) * double(M(xr[j]) * rs);
    }
  }
  for (int64_t j = 0; j < D && dw; ++j) {
    double sw = 0;
    for (int64_t c = 0; c < chunks; ++c) sw += partial[size_t(c * D + j)];
    dw[j] = T(sw);
  }
}

}  // namespace neat::cpu
