// Householder bidiagonalisation, the first half of the SVD (tensor/cpu/svd.h, docs/svd.md):
//
//   a [M, N] row-major, M >= N   ->   a = Q B P^T,   B [N, N] upper bidiagonal
//   d [N] (B's diagonal), e [N-1] (its superdiagonal),
//   qt = Q^T [N, M] and pt = P^T [N, N]: orthonormal rows, row j = the j-th column of Q / P.
//
// Step k applies a reflector H_k = I - tau v v^T from the left that zeroes column k below the
// diagonal, then G_k = I - tau' u u^T from the right that zeroes row k right of the
// superdiagonal. Q and P are kept transposed because the bidiagonal QR (svd_qr.h) then rotates
// two contiguous rows, not two strided columns. Every loop runs along a contiguous row; the
// parallel loops split rows (or column blocks) among threads, and each element is computed in
// the same order whatever the thread count, so the bits do not depend on it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/cpu/device.h"

namespace neat::cpu {

// The work (elements touched) from which an SVD loop is spread over the threads: each parallel
// loop of the SVD is one fork and join per reflector or per batch of rotations, which only
// pays for itself on large matrices. Tests lower it to run every loop threaded on small ones.
inline int64_t& svd_parallel_work() {
  static int64_t work = 16 * kParallelThreshold;
  return work;
}

// x . y in 8 running partial sums (a fixed order that vectorises without reassociation flags).
inline double svd_dot(const double* x, const double* y, int64_t n) {
  double lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += x[i + l] * y[i + l];
  double total = 0;
  for (; i < n; ++i) total += x[i] * y[i];
  return total + (((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) +
                  ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7])));
}

// y += alpha x.
inline void svd_axpy(double alpha, const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// ||x|| of n values at stride `stride`, rescaled where the squares would under- or overflow.
inline double svd_norm(const double* x, int64_t n, int64_t stride) {
  double big = 0, sq = 0;
  for (int64_t i = 0; i < n; ++i) big = std::max(big, std::abs(x[i * stride]));
  if (big == 0) return 0;
  const bool scale = big < 1e-150 || big > 1e150;
  for (int64_t i = 0; i < n; ++i) {
    const double v = scale ? x[i * stride] / big : x[i * stride];
    sq += v * v;
  }
  return scale ? big * std::sqrt(sq) : std::sqrt(sq);
}

// The reflector H = I - tau v v^T, v = (1, x'), with H (alpha, x) = (beta, 0) (LAPACK's
// dlarfg): x [n] at stride `stride` is overwritten by x' and alpha by beta; returns tau
// (0 when x is already zero: H = I).
inline double svd_reflector(double& alpha, double* x, int64_t n, int64_t stride) {
  const double xnorm = svd_norm(x, n, stride);
  if (xnorm == 0) return 0;
  const double big = std::max(std::abs(alpha), xnorm);
  const double beta = -std::copysign(big * std::hypot(alpha / big, xnorm / big), alpha);
  const double tau = (beta - alpha) / beta, scale = 1 / (alpha - beta);
  for (int64_t i = 0; i < n; ++i) x[i * stride] *= scale;
  alpha = beta;
  return tau;
}

// a [m, n] (m >= n) -> d [n], e [n-1], and the reflectors in place: v_k below a[k][k] (tau_q[k]),
// u_k right of a[k][k+1] (tau_p[k]). With bidiagonal = false no right reflectors are made: a
// Householder QR, a = Q R with R's diagonal in d and the rest of R above a's diagonal.
inline void svd_bidiagonalize(double* a, int64_t m, int64_t n, double* d, double* e,
                              double* tau_q, double* tau_p, bool bidiagonal = true) {
  std::vector<double> w(static_cast<size_t>(n)), v(static_cast<size_t>(m));
  for (int64_t k = 0; k < n; ++k) {
    // Left: v = (1, a[k+1..m)[k]) zeroes column k below the diagonal.
    tau_q[k] = svd_reflector(a[k * n + k], a + (k + 1) * n + k, m - k - 1, n);
    d[k] = a[k * n + k];
    v[size_t(k)] = 1;
    for (int64_t i = k + 1; i < m; ++i) v[size_t(i)] = a[i * n + k];
    const int64_t c0 = k + 1, width = n - c0;
    if (width == 0) break;
    // w = v^T a[k.., c0..], one column block per thread (rows in order within each block).
    const double tq = tau_q[k];
    constexpr int64_t kBlock = 256;
#pragma omp parallel for schedule(static) if ((m - k) * width >= svd_parallel_work())
    for (int64_t b = c0; b < n; b += kBlock) {
      const int64_t len = std::min(kBlock, n - b);
      std::fill(w.begin() + b, w.begin() + b + len, 0.0);
      if (tq != 0)
        for (int64_t i = k; i < m; ++i) svd_axpy(v[size_t(i)], a + i * n + b, w.data() + b, len);
    }
    // Row k: H's update, then the right reflector from what it leaves right of the diagonal.
    double* row_k = a + k * n + c0;
    svd_axpy(-tq, w.data() + c0, row_k, width);
    const double tp =
        bidiagonal && width > 1 ? svd_reflector(row_k[0], row_k + 1, width - 1, 1) : 0.0;
    tau_p[k] = tp;
    if (k + 1 < n) e[k] = row_k[0];
    // Rows below: H's update and G's (u = (1, row_k[1..])) while the row is in cache.
    const double saved = row_k[0];
    row_k[0] = 1;
#pragma omp parallel for schedule(static) if ((m - k) * width >= svd_parallel_work())
    for (int64_t i = k + 1; i < m; ++i) {
      double* row = a + i * n + c0;
      if (tq != 0) svd_axpy(-tq * v[size_t(i)], w.data() + c0, row, width);
      if (tp != 0) svd_axpy(-tp * svd_dot(row, row_k, width), row_k, row, width);
    }
    row_k[0] = saved;
  }
}

// Applies reflectors to the rows of the identity to form a transposed factor:
// out [rows, len] = [I 0] R_{count-1} ... R_0, R_k = I - tau[k] x_k x_k^T acting on columns
// k+shift.. of out, x_k = (1, the k-th vector's tail). tail(k, i) is the i-th entry of that
// tail. Rows below k+shift only change for R_k (the rows above still hold unit vectors that are
// zero where R_k acts), and each row is updated in one pass while it is in cache.
template <typename Tail>
void svd_form_factor(double* out, int64_t rows, int64_t len, int64_t count, int64_t shift,
                     const double* tau, const Tail& tail) {
  std::fill(out, out + rows * len, 0.0);
  for (int64_t r = 0; r < rows; ++r) out[r * len + r] = 1;
  std::vector<double> x(static_cast<size_t>(len));
  for (int64_t k = count - 1; k >= 0; --k) {
    if (tau[k] == 0) continue;
    const int64_t c0 = k + shift, width = len - c0;
    x[0] = 1;
    for (int64_t i = 1; i < width; ++i) x[size_t(i)] = tail(k, i - 1);
#pragma omp parallel for schedule(static) if ((rows - c0) * width >= svd_parallel_work())
    for (int64_t r = c0; r < rows; ++r) {
      double* row = out + r * len + c0;
      svd_axpy(-tau[k] * svd_dot(row, x.data(), width), x.data(), row, width);
    }
  }
}

// qt = Q^T [n, m] from the left reflectors stored in a [m, n] by svd_bidiagonalize.
inline void svd_form_qt(const double* a, int64_t m, int64_t n, const double* tau_q, double* qt) {
  svd_form_factor(qt, n, m, n, 0, tau_q,
                  [&](int64_t k, int64_t i) { return a[(k + 1 + i) * n + k]; });
}

// pt = P^T [n, n] from the right reflectors (u_k acts on columns k+1..).
inline void svd_form_pt(const double* a, int64_t n, const double* tau_p, double* pt) {
  svd_form_factor(pt, n, n, std::max<int64_t>(n - 1, 0), 1, tau_p,
                  [&](int64_t k, int64_t i) { return a[k * n + k + 2 + i]; });
}

}  // namespace neat::cpu
