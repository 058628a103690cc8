// Thin SVD of a tall matrix in float64 (tensor/svd.h's kernel; docs/svd.md):
//
//   a [M, N] row-major, M >= N  ->  u [M, N] (orthonormal columns), s [N] (descending, >= 0),
//                                   vt [N, N] (orthogonal), with a = u diag(s) vt.
//
// Householder bidiagonalisation a = Q B P^T (svd_bidiag.h), then the bidiagonal B = X diag(s)
// Y^T by implicit-shift QR (svd_qr.h), its rotations applied to Q^T and P^T as they are made:
// u = Q X, vt = Y^T P^T. Singular values below max(M, N) eps s_0 are reported as exactly 0
// (their vectors stay orthonormal: every step is orthogonal). Equal values keep the order in
// which the QR left them (a stable sort). The caller fixes the signs (svd_fix_signs).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "tensor/cpu/svd_bidiag.h"
#include "tensor/cpu/svd_qr.h"

namespace neat::cpu {

inline void svd_tall(Cpu, const double* a, int64_t m, int64_t n, double* u, double* s,
                     double* vt) {
  std::vector<double> work(a, a + m * n), d(static_cast<size_t>(n)), e(static_cast<size_t>(std::max<int64_t>(n - 1, 1)));
  std::vector<double> tau_q(static_cast<size_t>(n)), tau_p(static_cast<size_t>(n), 0.0);
  svd_bidiagonalize(work.data(), m, n, d.data(), e.data(), tau_q.data(), tau_p.data());
  std::vector<double> qt(static_cast<size_t>(n * m)), pt(static_cast<size_t>(n * n));
  svd_form_qt(work.data(), m, n, tau_q.data(), qt.data());
  svd_form_pt(work.data(), n, tau_p.data(), pt.data());
  SvdRotations left{qt.data(), n, m, {}, {}, {}}, right{pt.data(), n, n, {}, {}, {}};
  svd_bidiagonal_qr(d.data(), e.data(), n, left, right);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return d[size_t(x)] > d[size_t(y)]; });
  const double tiny = d[size_t(order[0])] * double(std::max(m, n)) * 2.220446049250313e-16;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t j = order[size_t(k)];
    s[k] = d[size_t(j)] > tiny ? d[size_t(j)] : 0.0;
    for (int64_t i = 0; i < m; ++i) u[i * n + k] = qt[size_t(j * m + i)];
    std::copy(pt.begin() + j * n, pt.begin() + (j + 1) * n, vt + k * n);
  }
}

// Makes the entry of largest magnitude of each u column positive (the first such entry on a
// tie), negating the column and the matching vt row together, so u diag(s) vt is unchanged:
// u [m, k], vt [k, n].
inline void svd_fix_signs(double* u, double* vt, int64_t m, int64_t k, int64_t n) {
  for (int64_t j = 0; j < k; ++j) {
    int64_t arg = 0;
    for (int64_t i = 1; i < m; ++i)
      if (std::abs(u[i * k + j]) > std::abs(u[arg * k + j])) arg = i;
    if (u[arg * k + j] >= 0) continue;
    for (int64_t i = 0; i < m; ++i) u[i * k + j] = -u[i * k + j];
    for (int64_t i = 0; i < n; ++i) vt[j * n + i] = -vt[j * n + i];
  }
}

}  // namespace neat::cpu
