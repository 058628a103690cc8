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

#include "tensor/cpu/shape_ops.h"
#include "tensor/cpu/svd_bidiag.h"
#include "tensor/cpu/svd_qr.h"

namespace neat::cpu {

// work [m, n] (m >= n; overwritten) -> qt = U^T [n, m], d [n] (>= 0, unsorted), pt = V^T
// [n, n]. A matrix at least twice as tall as wide is first factored as Q1 R (svd_qr_factor, on
// its transpose),
// so that the bidiagonalisation and the rotations work on the square R, and U^T = [U_R^T 0]
// Q1^T applies Q1's reflectors to U_R^T's rows (LAPACK's dgesvd does the same from m >= 1.6 n,
// with dormbr), without forming Q1.
inline void svd_unsorted(double* work, int64_t m, int64_t n, double* qt, double* d, double* pt) {
  if (m >= 2 * n) {
    std::vector<double> tau(static_cast<size_t>(n)), r(static_cast<size_t>(n * n), 0.0);
    std::vector<double> at(static_cast<size_t>(n * m));
    const int64_t shape[2] = {n, m}, stride[2] = {1, n};
    transpose_kernel(Cpu{}, at.data(), work, 2, shape, stride, 0);
    svd_qr_factor(at.data(), m, n, tau.data());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i; j < n; ++j) r[size_t(i * n + j)] = at[size_t(j * m + i)];
    std::vector<double> qt_r(static_cast<size_t>(n * n));
    svd_unsorted(r.data(), n, n, qt_r.data(), d, pt);
    std::fill(qt, qt + n * m, 0.0);
    for (int64_t i = 0; i < n; ++i) std::copy(qt_r.begin() + i * n, qt_r.begin() + (i + 1) * n, qt + i * m);
    svd_form_qt_transposed(at.data(), m, n, tau.data(), qt, false);
    return;
  }
  std::vector<double> e(static_cast<size_t>(std::max<int64_t>(n - 1, 1)));
  std::vector<double> tau_q(static_cast<size_t>(n)), tau_p(static_cast<size_t>(n), 0.0);
  svd_bidiagonalize(work, m, n, d, e.data(), tau_q.data(), tau_p.data());
  svd_form_qt(work, m, n, tau_q.data(), qt);
  svd_form_pt(work, n, tau_p.data(), pt);
  // The singular values first (no rotations kept: O(n^2)), as perfect shifts for the sweeps
  // that also rotate Q^T and P^T (svd_bidiagonal_qr).
  std::vector<double> known(d, d + n), e_copy(e);
  SvdRotations none{nullptr, n, 0, {}, {}, {}};
  svd_bidiagonal_qr(known.data(), e_copy.data(), n, none, none);
  std::sort(known.begin(), known.end());
  SvdRotations left{qt, n, m, {}, {}, {}}, right{pt, n, n, {}, {}, {}};
  svd_bidiagonal_qr(d, e.data(), n, left, right, &known);
}

// A non-finite entry would only surface as the QR's "did not converge" after 6 n^2 steps.
inline void svd_tall(Cpu, const double* a, int64_t m, int64_t n, double* u, double* s,
                     double* vt) {
  for (int64_t i = 0; i < m * n; ++i)
    NEAT_CHECK(std::isfinite(a[i]), "svd: the matrix has a non-finite entry (", a[i], ")");
  std::vector<double> work(a, a + m * n), d(static_cast<size_t>(n));
  std::vector<double> qt(static_cast<size_t>(n * m)), pt(static_cast<size_t>(n * n));
  svd_unsorted(work.data(), m, n, qt.data(), d.data(), pt.data());
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
