// The SVD of an upper bidiagonal matrix by implicit-shift QR, the second half of the SVD
// (tensor/cpu/svd.h, docs/svd.md): Demmel and Kahan's algorithm as LAPACK's dbdsqr, with
// its relative-accuracy stopping tests and zero-shift sweeps, so tiny singular values come out
// to high relative accuracy.
//
//   d [N], e [N-1] (B = diag(d) + superdiag(e))  ->  d = the singular values (unsorted, signed
//   until svd_bidiagonal_qr's end makes them >= 0), with every rotation applied to the rows of
//   ut [N, LU] (from the left: B's rows) and vt [N, LV] (from the right: B's columns), so that
//   a = Q B P^T becomes a = (ut^T) diag(d) vt for ut = Q^T and vt = P^T on entry.
//
// A sweep chases a bulge down (or up) the active block with 2 (hi - lo) plane rotations.
// Applying each at once would stream both factors through memory once per sweep; instead the
// rotations are queued and applied in batches (SvdRotations, svd_rotations.h).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/check.h"
#include "tensor/cpu/svd_bidiag.h"
#include "tensor/cpu/svd_rotations.h"

namespace neat::cpu {

// (c, s, r) with [c s; -s c] (f, g) = (r, 0), r of f's sign (LAPACK 3.10's dlartg): sqrt(f^2 +
// g^2) directly where neither square can under- or overflow, scaled otherwise.
inline void svd_rotation(double f, double g, double& c, double& s, double& r) {
  constexpr double safmin = 2.2250738585072014e-308, safmax = 1 / safmin;
  constexpr double rtmin = 1.4916681462400413e-154, rtmax = 4.7403759540545887e+153;
  const double f1 = std::abs(f), g1 = std::abs(g);
  if (g == 0) {
    c = 1, s = 0, r = f;
  } else if (f == 0) {
    c = 0, s = g > 0 ? 1 : -1, r = g1;
  } else if (f1 > rtmin && f1 < rtmax && g1 > rtmin && g1 < rtmax) {
    const double d = std::sqrt(f * f + g * g);
    c = f1 / d;
    r = std::copysign(d, f);
    s = g / r;
  } else {
    const double u = std::min(safmax, std::max({safmin, f1, g1}));
    const double fs = f / u, gs = g / u, d = std::sqrt(fs * fs + gs * gs);
    c = std::abs(fs) / d;
    r = std::copysign(d, f);
    s = gs / r;
    r *= u;
  }
}

// The smaller singular value of [f g; 0 h] (LAPACK's dlas2), for the shift.
inline double svd_smaller_2x2(double f, double g, double h) {
  const double fa = std::abs(f), ga = std::abs(g), ha = std::abs(h);
  const double fhmn = std::min(fa, ha), fhmx = std::max(fa, ha);
  if (fhmn == 0) return 0;
  if (ga < fhmx) {
    const double as = 1 + fhmn / fhmx, at = (fhmx - fhmn) / fhmx, au = (ga / fhmx) * (ga / fhmx);
    return fhmn * (2 / (std::sqrt(as * as + au) + std::sqrt(at * at + au)));
  }
  const double au = fhmx / ga;
  if (au == 0) return (fhmn * fhmx) / ga;
  const double as = 1 + fhmn / fhmx, at = (fhmx - fhmn) / fhmx;
  const double c = 1 / (std::sqrt(1 + (as * au) * (as * au)) + std::sqrt(1 + (at * au) * (at * au)));
  return 2 * ((fhmn * c) * au);
}

// The SVD of [f g; 0 h] (LAPACK's dlasv2): [cl sl; -sl cl] [f g; 0 h] [cr -sr; sr cr] =
// diag(big, small), |big| >= |small|.
inline void svd_2x2(double f, double g, double h, double& small, double& big, double& sr,
                    double& cr, double& sl, double& cl) {
  const double eps = 1.1102230246251565e-16;
  double ft = f, fa = std::abs(f), ht = h, ha = std::abs(h);
  int pmax = 1;   // which of f, g, h has the largest magnitude
  const bool swap = ha > fa;
  if (swap) {
    pmax = 3;
    std::swap(ft, ht);
    std::swap(fa, ha);
  }
  const double gt = g, ga = std::abs(g);
  double clt, crt, slt, srt;
  if (ga == 0) {
    small = ha, big = fa, clt = 1, crt = 1, slt = 0, srt = 0;
  } else {
    bool gasmal = true;
    if (ga > fa) {
      pmax = 2;
      if (fa / ga < eps) {   // g dominates: the values are g and f h / g to working precision
        gasmal = false;
        big = ga;
        small = ha > 1 ? fa / (ga / ha) : (fa / ga) * ha;
        clt = 1, slt = ht / gt, srt = 1, crt = ft / gt;
      }
    }
    if (gasmal) {
      const double dd = fa - ha;
      double l = dd == fa ? 1.0 : dd / fa;
      const double mm = gt / ft, t0 = 2 - l, mm2 = mm * mm, tt = t0 * t0;
      const double s = std::sqrt(tt + mm2), r = l == 0 ? std::abs(mm) : std::sqrt(l * l + mm2);
      const double a = 0.5 * (s + r);
      small = ha / a, big = fa * a;
      double t;
      if (mm2 == 0)
        t = l == 0 ? std::copysign(2.0, ft) * std::copysign(1.0, gt)
                   : gt / std::copysign(dd, ft) + mm / t0;
      else
        t = (mm / (s + t0) + mm / (r + l)) * (1 + a);
      l = std::sqrt(t * t + 4);
      crt = 2 / l, srt = t / l;
      clt = (crt + srt * mm) / a;
      slt = (ht / ft) * srt / a;
    }
  }
  if (swap)
    cl = srt, sl = crt, cr = slt, sr = clt;
  else
    cl = clt, sl = slt, cr = crt, sr = srt;
  const double sign_of_big = pmax == 1   ? std::copysign(1.0, cr) * std::copysign(1.0, cl) * std::copysign(1.0, f)
                             : pmax == 2 ? std::copysign(1.0, sr) * std::copysign(1.0, cl) * std::copysign(1.0, g)
                                         : std::copysign(1.0, sr) * std::copysign(1.0, sl) * std::copysign(1.0, h);
  big = std::copysign(big, sign_of_big);
  small = std::copysign(small, sign_of_big * std::copysign(1.0, f) * std::copysign(1.0, h));
}

// One implicit QR sweep over the unreduced block d[lo..hi], e[lo..hi): chases the bulge down
// (top to bottom) or up, with the given shift (0: Demmel and Kahan's zero-shift sweep, which
// keeps the small singular values' relative accuracy). Queues each rotation: B's rows on u,
// its columns on v.
inline void svd_qr_sweep(double* d, double* e, int64_t lo, int64_t hi, double shift, bool down,
                         SvdRotations& u, SvdRotations& v) {
  double cs, sn, r, oldcs = 1, oldsn = 0, cr, sr, cl, sl;
  if (shift == 0 && down) {
    cs = 1;
    for (int64_t i = lo; i < hi; ++i) {
      svd_rotation(d[i] * cs, e[i], cs, sn, r);
      if (i > lo) e[i - 1] = oldsn * r;
      svd_rotation(oldcs * r, d[i + 1] * sn, oldcs, oldsn, d[i]);
      v.add(i, cs, sn);
      u.add(i, oldcs, oldsn);
    }
    const double h = d[hi] * cs;
    d[hi] = h * oldcs;
    e[hi - 1] = h * oldsn;
  } else if (shift == 0) {
    cs = 1;
    for (int64_t i = hi; i > lo; --i) {
      svd_rotation(d[i] * cs, e[i - 1], cs, sn, r);
      if (i < hi) e[i] = oldsn * r;
      svd_rotation(oldcs * r, d[i - 1] * sn, oldcs, oldsn, d[i]);
      v.add(i - 1, oldcs, -oldsn);
      u.add(i - 1, cs, -sn);
    }
    const double h = d[lo] * cs;
    d[lo] = h * oldcs;
    e[lo] = h * oldsn;
  } else if (down) {
    double f = (std::abs(d[lo]) - shift) * (std::copysign(1.0, d[lo]) + shift / d[lo]), g = e[lo];
    for (int64_t i = lo; i < hi; ++i) {
      svd_rotation(f, g, cr, sr, r);
      if (i > lo) e[i - 1] = r;
      f = cr * d[i] + sr * e[i];
      e[i] = cr * e[i] - sr * d[i];
      g = sr * d[i + 1];
      d[i + 1] = cr * d[i + 1];
      svd_rotation(f, g, cl, sl, r);
      d[i] = r;
      f = cl * e[i] + sl * d[i + 1];
      d[i + 1] = cl * d[i + 1] - sl * e[i];
      if (i + 1 < hi) {
        g = sl * e[i + 1];
        e[i + 1] = cl * e[i + 1];
      }
      v.add(i, cr, sr);
      u.add(i, cl, sl);
    }
    e[hi - 1] = f;
  } else {
    double f = (std::abs(d[hi]) - shift) * (std::copysign(1.0, d[hi]) + shift / d[hi]);
    double g = e[hi - 1];
    for (int64_t i = hi; i > lo; --i) {
      svd_rotation(f, g, cr, sr, r);
      if (i < hi) e[i] = r;
      f = cr * d[i] + sr * e[i - 1];
      e[i - 1] = cr * e[i - 1] - sr * d[i];
      g = sr * d[i - 1];
      d[i - 1] = cr * d[i - 1];
      svd_rotation(f, g, cl, sl, r);
      d[i] = r;
      f = cl * e[i - 1] + sl * d[i - 1];
      d[i - 1] = cl * d[i - 1] - sl * e[i - 1];
      if (i > lo + 1) {
        g = sl * e[i - 2];
        e[i - 2] = cl * e[i - 2];
      }
      v.add(i - 1, cl, -sl);
      u.add(i - 1, cr, -sr);
    }
    e[lo] = f;
  }
}

// Demmel and Kahan's relative convergence test along the block [lo, hi] in the sweep's
// direction: zeroes the first e[l] that is negligible against the running estimate mu of the
// smallest singular value of the part before it (true: the block split). Otherwise min_mu is
// that estimate for the whole block (it decides between a shifted and a zero-shift sweep).
inline bool svd_qr_negligible(double* d, double* e, int64_t lo, int64_t hi, bool down, double tol,
                              double& min_mu) {
  if (down ? std::abs(e[hi - 1]) <= tol * std::abs(d[hi]) : std::abs(e[lo]) <= tol * std::abs(d[lo])) {
    e[down ? hi - 1 : lo] = 0;
    return true;
  }
  double mu = std::abs(d[down ? lo : hi]);
  min_mu = mu;
  for (int64_t step = 0; step < hi - lo; ++step) {
    const int64_t l = down ? lo + step : hi - 1 - step;
    if (std::abs(e[l]) <= tol * mu) {
      e[l] = 0;
      return true;
    }
    mu = std::abs(d[down ? l + 1 : l]) * (mu / (mu + std::abs(e[l])));
    min_mu = std::min(min_mu, mu);
  }
  return false;
}

// Below this an e is zero in absolute terms: tol times an estimate of B's smallest singular
// value (so that relative accuracy is kept), or an underflow guard.
inline double svd_qr_threshold(const double* d, const double* e, int64_t n, double tol) {
  const double unfl = 2.2250738585072014e-308;
  double smin_estimate = 0;
  if (n > 0 && d[0] != 0) {
    double mu = std::abs(d[0]);
    smin_estimate = mu;
    for (int64_t i = 1; i < n; ++i) {
      mu = std::abs(d[i]) * (mu / (mu + std::abs(e[i - 1])));
      smin_estimate = std::min(smin_estimate, mu);
      if (smin_estimate == 0) break;
    }
  }
  return std::max(tol * smin_estimate / std::sqrt(double(n)), 6.0 * double(n) * (double(n) * unfl));
}

// The entry of the ascending, non-empty `values` nearest to x.
inline std::vector<double>::iterator svd_nearest(std::vector<double>& values, double x) {
  auto it = std::lower_bound(values.begin(), values.end(), x);
  if (it == values.end() || (it != values.begin() && x - *(it - 1) < *it - x)) --it;
  return it;
}

// Removes from the known singular values (if any) the one nearest to the converged |x|, so
// that the perfect shifts are taken among the values of the blocks still unreduced.
inline void svd_forget_nearest(std::vector<double>* known, double x) {
  if (known && !known->empty()) known->erase(svd_nearest(*known, std::abs(x)));
}

// Diagonalises B = diag(d) + superdiag(e) [n, n]: on return d holds B's singular values
// (>= 0, unsorted) and u, v have received every rotation (v's rows are negated where a value
// was). Errors when it has not converged after 6 n^2 inner steps (LAPACK's limit).
// known (optional): B's singular values, ascending, from a first call without rotations
// (len 0: O(n^2)). The first sweep on each new block then shifts by the known value nearest
// to the usual shift, a perfect shift that (in exact arithmetic) deflates the block's end in
// one sweep; the next sweep on the same block, if one is needed, takes the usual shift. For a
// 768 x 768 Gaussian matrix this saves a quarter of the rotations.
inline void svd_bidiagonal_qr(double* d, double* e, int64_t n, SvdRotations& u, SvdRotations& v,
                              std::vector<double>* known = nullptr) {
  const double eps = 1.1102230246251565e-16;
  const double tol = std::max(10.0, std::min(100.0, std::pow(eps, -0.125))) * eps;
  const double thresh = svd_qr_threshold(d, e, n, tol);
  const int64_t max_steps = 6 * n * n;
  int64_t steps = 0, old_lo = -1, old_hi = -1, hi = n - 1, last_lo = -1, last_hi = -1;
  bool down = true;
  const size_t batch = size_t(std::max<int64_t>(64, 32 * n));
  while (hi > 0) {
    NEAT_CHECK(steps <= max_steps, "svd: the bidiagonal QR did not converge in ", max_steps,
               " steps (n = ", n, ")");
    // The unreduced block [lo, hi]: e[lo..hi) all above thresh.
    double block_max = std::abs(d[hi]);
    int64_t lo = hi - 1;
    for (; lo >= 0; --lo) {
      if (std::abs(e[lo]) <= thresh) break;
      block_max = std::max({block_max, std::abs(d[lo]), std::abs(e[lo])});
    }
    if (lo >= 0) {
      e[lo] = 0;
      if (lo == hi - 1) {   // d[hi] has converged
        svd_forget_nearest(known, d[hi]);
        --hi;
        continue;
      }
    }
    ++lo;
    if (lo == hi - 1) {   // a 2 x 2 block: its SVD directly
      double small, big, sr, cr, sl, cl;
      svd_2x2(d[hi - 1], e[hi - 1], d[hi], small, big, sr, cr, sl, cl);
      d[hi - 1] = big, e[hi - 1] = 0, d[hi] = small;
      svd_forget_nearest(known, big);
      svd_forget_nearest(known, small);
      v.add(hi - 1, cr, sr);
      u.add(hi - 1, cl, sl);
      hi -= 2;
      continue;
    }
    // A new block: chase the bulge from the larger end towards the smaller one.
    if (lo > old_hi || hi < old_lo) down = std::abs(d[lo]) >= std::abs(d[hi]);
    double min_mu = 0;
    if (svd_qr_negligible(d, e, lo, hi, down, tol, min_mu)) continue;
    old_lo = lo, old_hi = hi;
    double shift = 0;
    if (double(n) * tol * (min_mu / block_max) > std::max(eps, 0.01 * tol)) {
      const double end = std::abs(d[down ? lo : hi]);
      shift = down ? svd_smaller_2x2(d[hi - 1], e[hi - 1], d[hi])
                   : svd_smaller_2x2(d[lo], e[lo], d[lo + 1]);
      if (end > 0 && (shift / end) * (shift / end) < eps) shift = 0;
      if (shift != 0 && known && !known->empty() && (lo != last_lo || hi != last_hi))
        shift = *svd_nearest(*known, shift);
    }
    last_lo = lo, last_hi = hi;
    steps += hi - lo;
    svd_qr_sweep(d, e, lo, hi, shift, down, u, v);
    const int64_t last = down ? hi - 1 : lo;
    if (std::abs(e[last]) <= thresh) e[last] = 0;
    if (u.index.size() >= batch) u.flush();
    if (v.index.size() >= batch) v.flush();
  }
  u.flush();
  v.flush();
  for (int64_t i = 0; i < n; ++i)
    if (d[i] < 0) {
      d[i] = -d[i];
      for (int64_t j = 0; j < v.len; ++j) v.m[i * v.len + j] = -v.m[i * v.len + j];
    }
}

}  // namespace neat::cpu
