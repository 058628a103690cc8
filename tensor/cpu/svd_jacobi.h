// Thin singular value decomposition by one-sided Jacobi (Hestenes 1958), in float64.
//
//   a [M, N] row-major, M >= N  ->  u [M, N] (orthonormal columns), s [N] (descending, >= 0),
//                                   v [N, N] (orthogonal), with a = u diag(s) v^T.
//
// The method orthogonalises the columns of a working copy G = A by plane rotations applied on
// the right, G <- G J, V <- V J, until every pair of columns is orthogonal to working precision.
// Then A V = G, the singular values are the column norms of G, and u = G / s. docs/svd.md
// derives the rotation and explains the stopping rule. M < N is handled by the caller
// (tensor/svd.cpp) through the transpose.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "tensor/cpu/device.h"

namespace neat::cpu {

// Rotates columns p and q of the row-major [rows, cols] matrix m: (x, y) <- (c x - s y, s x + c y).
inline void rotate_columns(double* m, int64_t rows, int64_t cols, int64_t p, int64_t q, double c,
                           double s) {
  for (int64_t i = 0; i < rows; ++i) {
    const double x = m[i * cols + p], y = m[i * cols + q];
    m[i * cols + p] = c * x - s * y;
    m[i * cols + q] = s * x + c * y;
  }
}

// Makes column j of u [m, n] a unit vector orthogonal to columns 0..j-1 (and any column in
// `filled`), trying the unit vectors e_0, e_1, ... with Gram-Schmidt applied twice: how a null
// singular vector of a rank-deficient matrix is completed.
inline void complete_column(double* u, int64_t m, int64_t n, int64_t j,
                            const std::vector<bool>& filled) {
  for (int64_t e = 0; e < m; ++e) {
    std::vector<double> w(size_t(m), 0.0);
    w[size_t(e)] = 1.0;
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t k = 0; k < n; ++k) {
        if (!filled[size_t(k)]) continue;
        double dot = 0;
        for (int64_t i = 0; i < m; ++i) dot += u[i * n + k] * w[size_t(i)];
        for (int64_t i = 0; i < m; ++i) w[size_t(i)] -= dot * u[i * n + k];
      }
    double norm = 0;
    for (double x : w) norm += x * x;
    norm = std::sqrt(norm);
    if (norm < 0.5) continue;   // e lies (nearly) in the span already: try the next one
    for (int64_t i = 0; i < m; ++i) u[i * n + j] = w[size_t(i)] / norm;
    return;
  }
}

// a [m, n] (m >= n) -> u [m, n], s [n], v [n, n]; returns the number of sweeps used.
inline int svd_jacobi(Cpu, const double* a, int64_t m, int64_t n, double* u, double* s, double* v,
                      int max_sweeps = 60) {
  std::vector<double> g(a, a + m * n);
  std::vector<double> vw(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) vw[size_t(i * n + i)] = 1.0;
  const double eps = 2.220446049250313e-16;
  int sweep = 0;
  for (; sweep < max_sweeps; ++sweep) {
    bool rotated = false;
    for (int64_t p = 0; p + 1 < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        // The 2x2 Gram matrix of columns p and q: [alpha gamma; gamma beta].
        double alpha = 0, beta = 0, gamma = 0;
        for (int64_t i = 0; i < m; ++i) {
          const double x = g[size_t(i * n + p)], y = g[size_t(i * n + q)];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma == 0 || std::abs(gamma) <= eps * std::sqrt(alpha * beta)) continue;
        rotated = true;
        // The rotation that zeroes gamma: tan(2 theta) = 2 gamma / (beta - alpha), the smaller root.
        const double zeta = (beta - alpha) / (2 * gamma);
        const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::abs(zeta) + std::sqrt(1 + zeta * zeta));
        const double c = 1 / std::sqrt(1 + t * t), sn = c * t;
        rotate_columns(g.data(), m, n, p, q, c, sn);
        rotate_columns(vw.data(), n, n, p, q, c, sn);
      }
    if (!rotated) break;
  }
  // Column norms are the singular values; order them descending (a stable sort keeps ties in
  // column order, so the result is deterministic).
  std::vector<double> norms(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    double sq = 0;
    for (int64_t i = 0; i < m; ++i) sq += g[size_t(i * n + j)] * g[size_t(i * n + j)];
    norms[size_t(j)] = std::sqrt(sq);
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return norms[size_t(x)] > norms[size_t(y)]; });
  // Columns whose norm is below this are numerically zero: their u is completed instead.
  const double tiny = (norms.empty() ? 0.0 : norms[size_t(order[0])]) * double(std::max(m, n)) * eps;
  std::vector<bool> filled(static_cast<size_t>(n), false);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t j = order[size_t(k)];
    const double sigma = norms[size_t(j)];
    s[k] = sigma > tiny ? sigma : 0.0;
    for (int64_t i = 0; i < n; ++i) v[i * n + k] = vw[size_t(i * n + j)];
    if (sigma > tiny) {
      for (int64_t i = 0; i < m; ++i) u[i * n + k] = g[size_t(i * n + j)] / sigma;
      filled[size_t(k)] = true;
    }
  }
  for (int64_t k = 0; k < n; ++k)
    if (!filled[size_t(k)]) {
      complete_column(u, m, n, k, filled);
      filled[size_t(k)] = true;
    }
  // A fixed sign per triplet: the entry of largest magnitude in each u column is positive
  // (u_k and v_k flip together, so u diag(s) v^T is unchanged).
  for (int64_t k = 0; k < n; ++k) {
    int64_t arg = 0;
    for (int64_t i = 1; i < m; ++i)
      if (std::abs(u[i * n + k]) > std::abs(u[arg * n + k])) arg = i;
    if (u[arg * n + k] < 0) {
      for (int64_t i = 0; i < m; ++i) u[i * n + k] = -u[i * n + k];
      for (int64_t i = 0; i < n; ++i) v[i * n + k] = -v[i * n + k];
    }
  }
  return sweep;
}

}  // namespace neat::cpu
