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
#include "tensor/cpu/gemm.h"

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
// dlarfg): x [n] at stride `stride` is overwritten by x' = x * scale and alpha by beta; returns
// tau (0, and scale 0, when x is already zero: H = I).
inline double svd_reflector(double& alpha, double* x, int64_t n, int64_t stride, double& scale) {
  scale = 0;
  const double xnorm = svd_norm(x, n, stride);
  if (xnorm == 0) return 0;
  const double big = std::max(std::abs(alpha), xnorm);
  const double beta = -std::copysign(big * std::hypot(alpha / big, xnorm / big), alpha);
  const double tau = (beta - alpha) / beta;
  scale = 1 / (alpha - beta);
  for (int64_t i = 0; i < n; ++i) x[i * stride] *= scale;
  alpha = beta;
  return tau;
}

// One pass over the rows first_row..m-1 of a [m, n]: update(i) on each row, then (rows below
// col) raw[j] = sum over i > col of a[i][col] a[i][col+1+j], the next left reflector's
// product with the matrix before its column is scaled into v. The rows go in fixed chunks of
// kRows, each summing into its own partial (spread over the threads), added in chunk order:
// the same bits for any thread count.
template <typename Update>
void svd_rows_pass(double* a, int64_t m, int64_t n, int64_t first_row, int64_t col, double* raw,
                   std::vector<double>& partial, const Update& update) {
  constexpr int64_t kRows = 64;
  const int64_t len = std::max<int64_t>(n - col - 1, 0);
  const int64_t chunks = (m - first_row + kRows - 1) / kRows;
  partial.assign(size_t(std::max<int64_t>(chunks, 0) * len), 0.0);
#pragma omp parallel for schedule(static) if ((m - first_row) * (n - col) >= svd_parallel_work())
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t i0 = first_row + c * kRows, i1 = std::min(m, i0 + kRows);
    double* acc = partial.data() + c * len;
    for (int64_t i = i0; i < i1; ++i) {
      update(i);
      if (i > col) svd_axpy(a[i * n + col], a + i * n + col + 1, acc, len);
    }
  }
  std::fill(raw, raw + len, 0.0);
  for (int64_t c = 0; c < chunks; ++c) svd_axpy(1.0, partial.data() + c * len, raw, len);
}

// a [m, n] (m >= n) -> d [n], e [n-1], and the reflectors in place: v_k below a[k][k] (tau_q[k]),
// u_k right of a[k][k+1] (tau_p[k]). With bidiagonal = false no right reflectors are made: a
// Householder QR, a = Q R with R's diagonal in d and the rest of R above a's diagonal.
// Each step is one pass over the rows below it (svd_rows_pass): the left and right updates of
// this step, and the product the next step's left reflector needs, while the row is in cache.
inline void svd_bidiagonalize(double* a, int64_t m, int64_t n, double* d, double* e,
                              double* tau_q, double* tau_p, bool bidiagonal = true) {
  std::vector<double> w(static_cast<size_t>(n)), v(static_cast<size_t>(m));
  std::vector<double> raw(static_cast<size_t>(n)), partial;
  svd_rows_pass(a, m, n, 1, 0, raw.data(), partial, [](int64_t) {});
  for (int64_t k = 0; k < n; ++k) {
    // Left: v = (1, a[k+1..m)[k] * scale) zeroes column k below the diagonal.
    double scale;
    const double tq = svd_reflector(a[k * n + k], a + (k + 1) * n + k, m - k - 1, n, scale);
    tau_q[k] = tq;
    d[k] = a[k * n + k];
    for (int64_t i = k + 1; i < m; ++i) v[size_t(i)] = a[i * n + k];
    const int64_t c0 = k + 1, width = n - c0;
    if (width == 0) break;
    // w = v^T a[k.., c0..] = a[k][c0..] + scale raw.
    double* row_k = a + k * n + c0;
    for (int64_t j = 0; j < width; ++j) w[size_t(j)] = row_k[j] + scale * raw[size_t(j)];
    // Row k: H's update, then the right reflector from what it leaves right of the diagonal.
    svd_axpy(-tq, w.data(), row_k, width);
    double unused;
    const double tp = bidiagonal && width > 1
                          ? svd_reflector(row_k[0], row_k + 1, width - 1, 1, unused)
                          : 0.0;
    tau_p[k] = tp;
    e[k] = row_k[0];
    // Rows below: H's update and G's (u = (1, row_k[1..])).
    const double saved = row_k[0];
    row_k[0] = 1;
    svd_rows_pass(a, m, n, k + 1, k + 1, raw.data(), partial, [&](int64_t i) {
      double* row = a + i * n + c0;
      if (tq != 0) svd_axpy(-tq * v[size_t(i)], w.data(), row, width);
      if (tp != 0) svd_axpy(-tp * svd_dot(row, row_k, width), row_k, row, width);
    });
    row_k[0] = saved;
  }
}

// The compact WY form of nb reflectors (LAPACK's dlarft): R_{k0} ... R_{k0+nb-1} = I - V T V^T,
// V [width, nb] with column j = x_{k0+j} from its row j on (1 there, then tail(k0 + j, i) for
// i = 0, 1, ...), T [nb, nb] upper triangular: T[j][j] = tau_j,
// T[0:j][j] = -tau_j T[0:j][0:j] (V[:, 0:j]^T x_j).
template <typename Tail>
void svd_wy(int64_t width, int64_t nb, int64_t k0, const double* tau, const Tail& tail,
            std::vector<double>& v, std::vector<double>& t) {
  v.assign(size_t(width * nb), 0.0);
  for (int64_t j = 0; j < nb; ++j) {
    v[size_t(j * nb + j)] = 1;
    for (int64_t i = j + 1; i < width; ++i) v[size_t(i * nb + j)] = tail(k0 + j, i - j - 1);
  }
  std::vector<double> gram(size_t(nb * nb));
  dgemm(true, false, nb, nb, width, 1.0, v.data(), nb, v.data(), nb, 0.0, gram.data(), nb);
  t.assign(size_t(nb * nb), 0.0);
  for (int64_t j = 0; j < nb; ++j) {
    const double tj = tau[k0 + j];
    t[size_t(j * nb + j)] = tj;
    for (int64_t i = 0; i < j; ++i) {
      double sum = 0;
      for (int64_t l = i; l < j; ++l) sum += t[size_t(i * nb + l)] * gram[size_t(l * nb + j)];
      t[size_t(i * nb + j)] = -tj * sum;
    }
  }
}

// Applies H_{k1-1} ... H_{k0} to the columns [c0, c1) of a, i.e. the rows [c0, c1) of at,
// columns k0..m: with C those rows and V [m - k0, nb] the reflectors (svd_wy),
//   a <- (I - V T V^T)^T a   is   C <- C - ((C V) T) V^T,   two GEMMs and a small one.
inline void svd_qr_apply(double* at, int64_t m, int64_t k0, int64_t k1, int64_t c0, int64_t c1,
                         const double* tau) {
  const int64_t nb = k1 - k0, rest = c1 - c0, width = m - k0;
  if (rest <= 0 || nb <= 0) return;
  std::vector<double> v, t, w1(size_t(rest * nb)), w2(size_t(rest * nb));
  svd_wy(width, nb, k0, tau, [&](int64_t k, int64_t i) { return at[k * m + k + 1 + i]; }, v, t);
  double* c = at + c0 * m + k0;
  dgemm(false, false, rest, nb, width, 1.0, c, m, v.data(), nb, 0.0, w1.data(), nb);
  dgemm(false, false, rest, nb, nb, 1.0, w1.data(), nb, t.data(), nb, 0.0, w2.data(), nb);
  dgemm(false, true, rest, width, nb, -1.0, w2.data(), nb, v.data(), nb, 1.0, c, m);
}

// The QR of the columns [k0, k1) of a (rows of at; the rows from k1 on are not touched),
// recursively (Elmroth and Gustavson 2000): the first half, its reflectors applied to the
// second half by GEMMs (svd_qr_apply), then the second half; up to 8 reflector by reflector.
inline void svd_qr_panel(double* at, int64_t m, int64_t k0, int64_t k1, double* tau) {
  if (k1 - k0 > 8) {
    const int64_t mid = k0 + (k1 - k0) / 2;
    svd_qr_panel(at, m, k0, mid, tau);
    svd_qr_apply(at, m, k0, mid, mid, k1, tau);
    svd_qr_panel(at, m, mid, k1, tau);
    return;
  }
  for (int64_t j = k0; j < k1; ++j) {
    double* x = at + j * m;
    double scale;
    tau[j] = svd_reflector(x[j], x + j + 1, m - j - 1, 1, scale);
    if (tau[j] == 0) continue;
    for (int64_t c = j + 1; c < k1; ++c) {   // column c of a: minus tau (x^T col) x
      double* col = at + c * m;
      const double w = tau[j] * (col[j] + svd_dot(x + j + 1, col + j + 1, m - j - 1));
      col[j] -= w;
      svd_axpy(-w, x + j + 1, col + j + 1, m - j - 1);
    }
  }
}

// Householder QR of a tall a [m, n] (LAPACK's dgeqrf), given and kept transposed, at = a^T
// [n, m] row-major, so that each column of a, and each reflector, is a contiguous row:
//   a = Q R,  Q = H_0 ... H_{n-1},  H_k = I - tau[k] x_k x_k^T,  x_k = (1, at[k][k+1..m)),
//   R[i][j] = at[j][i] for i <= j.
// Blocked: panels of kPanel columns, each factored recursively (svd_qr_panel), then applied to
// the columns right of it in the compact WY form (svd_qr_apply), so most of the work is GEMM.
inline void svd_qr_factor(double* at, int64_t m, int64_t n, double* tau) {
  constexpr int64_t kPanel = 64;
  for (int64_t k0 = 0; k0 < n; k0 += kPanel) {
    const int64_t k1 = std::min(n, k0 + kPanel);
    svd_qr_panel(at, m, k0, k1, tau);
    svd_qr_apply(at, m, k0, k1, k1, n, tau);
  }
}

// Applies reflectors to the rows of a matrix, to form a transposed factor or a product with one:
// out [rows, len] <- out R_{count-1} ... R_0, R_k = I - tau[k] x_k x_k^T acting on columns
// k+shift.. of out, x_k = (1, the k-th vector's tail); tail(k, i) is the i-th entry of that
// tail. identity: out starts as [I 0] (rows <= len), which is then the transposed factor.
// Blocked as LAPACK's dorgbr / dormbr, so that the work is three GEMMs per panel of kPanel
// reflectors in their WY form (svd_wy):
//   out <- out R_{k1-1} ... R_{k0} = out (I - V T V^T)^T = out - ((out V) T^T) V^T,
// applied to the columns from k0+shift on, and (from the identity) only to the rows from
// k0+shift on: the rows above still hold unit vectors that are zero there.
template <typename Tail>
void svd_apply_reflectors(double* out, int64_t rows, int64_t len, int64_t count, int64_t shift,
                          const double* tau, const Tail& tail, bool identity) {
  constexpr int64_t kPanel = 64;
  if (identity) {
    std::fill(out, out + rows * len, 0.0);
    for (int64_t r = 0; r < rows; ++r) out[r * len + r] = 1;
  }
  std::vector<double> v, t, w1, w2;
  for (int64_t k1 = count; k1 > 0; k1 -= kPanel) {
    const int64_t k0 = std::max<int64_t>(0, k1 - kPanel), nb = k1 - k0;
    const int64_t c0 = k0 + shift, width = len - c0, r0 = identity ? c0 : 0, height = rows - r0;
    svd_wy(width, nb, k0, tau, tail, v, t);
    double* sub = out + r0 * len + c0;
    w1.assign(size_t(height * nb), 0.0);
    w2.assign(size_t(height * nb), 0.0);
    dgemm(false, false, height, nb, width, 1.0, sub, len, v.data(), nb, 0.0, w1.data(), nb);
    dgemm(false, true, height, nb, nb, 1.0, w1.data(), nb, t.data(), nb, 0.0, w2.data(), nb);
    dgemm(false, true, height, width, nb, -1.0, w2.data(), nb, v.data(), nb, 1.0, sub, len);
  }
}

// qt [n, m] <- qt Q^T, for Q from the left reflectors stored in a [m, n] by svd_bidiagonalize;
// identity: qt = Q^T's first n rows, whatever it held.
inline void svd_form_qt(const double* a, int64_t m, int64_t n, const double* tau_q, double* qt,
                        bool identity = true) {
  svd_apply_reflectors(qt, n, m, n, 0, tau_q,
                       [&](int64_t k, int64_t i) { return a[(k + 1 + i) * n + k]; }, identity);
}

// The same for the reflectors of svd_qr_factor, stored in at [n, m].
inline void svd_form_qt_transposed(const double* at, int64_t m, int64_t n, const double* tau,
                                   double* qt, bool identity = true) {
  svd_apply_reflectors(qt, n, m, n, 0, tau,
                       [&](int64_t k, int64_t i) { return at[k * m + k + 1 + i]; }, identity);
}

// pt = P^T [n, n] from the right reflectors (u_k acts on columns k+1..).
inline void svd_form_pt(const double* a, int64_t n, const double* tau_p, double* pt) {
  svd_apply_reflectors(pt, n, n, std::max<int64_t>(n - 1, 0), 1, tau_p,
                       [&](int64_t k, int64_t i) { return a[k * n + k + 2 + i]; }, true);
}

}  // namespace neat::cpu
