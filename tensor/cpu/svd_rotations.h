// Queued plane rotations on the rows of a factor, for the bidiagonal QR (svd_qr.h, docs/svd.md):
//
//   m [rows, len] row-major; rotation r maps rows (j, j+1), j = index[r], to
//   (c x + s y, c y - s x), applied in the order queued.
//
// A QR sweep makes a chain of rotations on neighbouring rows: (j, j+1), (j+1, j+2), ... going
// down, or (j, j+1), (j-1, j), ... going up. Applying each rotation as it comes would stream
// the whole factor through memory once per sweep and load and store both rows per rotation;
// instead flush() applies the queue one block of kRotationColumns columns at a time (the block
// stays in cache through the whole batch; blocks go to different threads), and walks each chain
// with the row the next rotation shares held in registers: one load and one store per rotation
// instead of two of each; two down chains from the same row (consecutive sweeps on one block)
// go in one pass (svd_rotation_pair). Each element sees the same rotations in the same order,
// with the same arithmetic, whatever the thread count, the block and the pairing.
#pragma once
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor/cpu/svd_bidiag.h"

namespace neat::cpu {

// Four doubles: one AVX2 register (GCC's and Clang's vector extension, lowered to what the
// target has).
using SvdVec = double __attribute__((vector_size(32)));
constexpr int kSvdVecWidth = 4;

inline SvdVec svd_load(const double* p) {
  SvdVec v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void svd_store(double* p, SvdVec v) { __builtin_memcpy(p, &v, sizeof v); }

// a b + c and a b - c, fused where the target has FMA: written out, so that the compiler
// cannot fuse the other product of a rotation instead (the one with the carried row, which
// would put a multiply on the chain's critical path and keep more registers live).
inline SvdVec svd_fmadd(SvdVec a, SvdVec b, SvdVec c) {
#if defined(__AVX2__) && defined(__FMA__)
  return SvdVec(_mm256_fmadd_pd(__m256d(a), __m256d(b), __m256d(c)));
#else
  return a * b + c;
#endif
}
inline SvdVec svd_fmsub(SvdVec a, SvdVec b, SvdVec c) {
#if defined(__AVX2__) && defined(__FMA__)
  return SvdVec(_mm256_fmsub_pd(__m256d(a), __m256d(b), __m256d(c)));
#else
  return a * b - c;
#endif
}
inline SvdVec svd_fnmadd(SvdVec a, SvdVec b, SvdVec c) {   // c - a b
#if defined(__AVX2__) && defined(__FMA__)
  return SvdVec(_mm256_fnmadd_pd(__m256d(a), __m256d(b), __m256d(c)));
#else
  return c - a * b;
#endif
}

// Applies the chain of `count` rotations (c[r], s[r]) on rows (j + r step, j + r step + 1)
// (step +1: down, -1: up) to `width` columns of m from column 0, row stride len. A full block
// (width == V * 4) keeps the carried row in V registers.
template <int V>
void svd_rotation_chain(double* m, int64_t len, int64_t j, int64_t count, int step,
                        const double* c, const double* s, int64_t width) {
  if (width == V * kSvdVecWidth) {
    SvdVec carry[V];
    // Down: row j + r is carried into rotation r as x (rows j + r, j + r + 1). Up: row
    // j + 1 - r is carried into rotation r as y (rows j - r, j - r + 1).
    const double* first = m + (step > 0 ? j : j + 1) * len;
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) carry[v] = svd_load(first + v * kSvdVecWidth);
    for (int64_t r = 0; r < count; ++r) {
      double* other = m + (step > 0 ? j + r + 1 : j - r) * len;
      double* done = m + (step > 0 ? j + r : j - r + 1) * len;
      const SvdVec cr = SvdVec{} + c[r], sr = SvdVec{} + s[r];
      if (step > 0) {   // x = carry, y loaded: x' = c x + s y, y' = c y - s x
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) {
          const SvdVec xi = carry[v], yi = svd_load(other + v * kSvdVecWidth);
          svd_store(done + v * kSvdVecWidth, svd_fmadd(cr, xi, sr * yi));
          carry[v] = svd_fnmadd(sr, xi, cr * yi);
        }
      } else {   // x loaded, y = carry
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) {
          const SvdVec xi = svd_load(other + v * kSvdVecWidth), yi = carry[v];
          carry[v] = svd_fmadd(sr, yi, cr * xi);
          svd_store(done + v * kSvdVecWidth, svd_fmsub(cr, yi, sr * xi));
        }
      }
    }
    double* last = m + (step > 0 ? j + count : j - count + 1) * len;
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) svd_store(last + v * kSvdVecWidth, carry[v]);
    return;
  }
  for (int64_t r = 0; r < count; ++r) {   // a narrower last block: rotation by rotation
    double* x = m + (j + r * step) * len;
    double* y = x + len;
    const double cr = c[r], sr = s[r];
    for (int64_t i = 0; i < width; ++i) {
      const double xi = x[i], yi = y[i];
      x[i] = cr * xi + sr * yi;
      y[i] = cr * yi - sr * xi;
    }
  }
}

// Two down chains in one pass: A of la rotations on rows (j + r, j + r + 1), then B of lb <= la
// rotations on the same rows from the same j (the next sweep on the same block, or on the
// block less its converged end), on V * 4 columns. B's rotation b needs rows j + b and
// j + b + 1 as A leaves them, which they are once A's rotation b + 1 is done: so each step
// does A's rotation r, then hands the row A has finished with (in registers) to B's rotation
// r - 1. One load and one store per two rotations; the same arithmetic, in the same order for
// each element, as the two chains one after the other.
template <int V>
void svd_rotation_pair(double* m, int64_t len, int64_t j, int64_t la, const double* ca,
                       const double* sa, int64_t lb, const double* cb, const double* sb) {
  SvdVec carry_a[V], carry_b[V], out[V];
#pragma GCC unroll 16
  for (int v = 0; v < V; ++v) carry_a[v] = svd_load(m + j * len + v * kSvdVecWidth);
  for (int64_t r = 0; r <= la; ++r) {
    if (r < la) {   // A's rotation r: row j + r is final for A (out), row j + r + 1 carried
      const double* y = m + (j + r + 1) * len;
      const SvdVec c = SvdVec{} + ca[r], s = SvdVec{} + sa[r];
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) {
        const SvdVec xi = carry_a[v], yi = svd_load(y + v * kSvdVecWidth);
        out[v] = svd_fmadd(c, xi, s * yi);
        carry_a[v] = svd_fnmadd(s, xi, c * yi);
      }
    } else {   // A is done: its carried row j + la is final
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) out[v] = carry_a[v];
    }
    if (r == 0) {   // row j as A leaves it: B's first x
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) carry_b[v] = out[v];
      continue;
    }
    const int64_t b = r - 1;
    if (b < lb) {   // B's rotation b on rows j + b (carried) and j + r (out)
      double* x = m + (j + b) * len;
      const SvdVec c = SvdVec{} + cb[b], s = SvdVec{} + sb[b];
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) {
        const SvdVec xi = carry_b[v], yi = out[v];
        svd_store(x + v * kSvdVecWidth, svd_fmadd(c, xi, s * yi));
        carry_b[v] = svd_fnmadd(s, xi, c * yi);
      }
      if (r == la) {
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) svd_store(m + (j + r) * len + v * kSvdVecWidth, carry_b[v]);
      }
      continue;
    }
    if (b == lb) {   // B ended at the previous step: its carried row j + lb is final
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) svd_store(m + (j + lb) * len + v * kSvdVecWidth, carry_b[v]);
    }
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) svd_store(m + (j + r) * len + v * kSvdVecWidth, out[v]);
  }
}

struct SvdRotations {
  double* m;
  int64_t rows, len;
  std::vector<int64_t> index;
  std::vector<double> c, s;

  void add(int64_t j, double cj, double sj) {
    if (len == 0) return;   // singular values only
    index.push_back(j);
    c.push_back(cj);
    s.push_back(sj);
  }
  void flush() {
    constexpr int64_t kRotationColumns = 32;
    const int64_t count = int64_t(index.size());
    if (count == 0) return;
    // The chains: [start[k], start[k+1]) of the queue, each going one way (a lone rotation is
    // a chain of one).
    std::vector<int64_t> start{0};
    std::vector<int> step;
    for (int64_t r = 0; r < count;) {
      int64_t e = r + 1;
      const int dir = e < count && index[size_t(e)] == index[size_t(r)] - 1 ? -1 : 1;
      while (e < count && index[size_t(e)] == index[size_t(e - 1)] + dir) ++e;
      step.push_back(dir);
      start.push_back(e);
      r = e;
    }
    const int64_t blocks = (len + kRotationColumns - 1) / kRotationColumns;
#pragma omp parallel for schedule(static) if (count * len >= svd_parallel_work())
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t j0 = b * kRotationColumns, width = std::min(kRotationColumns, len - j0);
      for (size_t k = 0; k < step.size(); ++k) {
        const int64_t r = start[k], la = start[k + 1] - r;
        const int64_t lb = k + 1 < step.size() ? start[k + 2] - start[k + 1] : 0;
        if (width == kRotationColumns && step[k] > 0 && lb > 0 && step[k + 1] > 0 &&
            lb <= la && index[size_t(start[k + 1])] == index[size_t(r)]) {
          const int64_t r2 = start[k + 1];
          for (int64_t half = 0; half < kRotationColumns; half += kRotationColumns / 2)
            svd_rotation_pair<kRotationColumns / 2 / kSvdVecWidth>(
                m + j0 + half, len, index[size_t(r)], la, c.data() + r, s.data() + r, lb,
                c.data() + r2, s.data() + r2);
          ++k;
          continue;
        }
        svd_rotation_chain<kRotationColumns / kSvdVecWidth>(m + j0, len, index[size_t(r)], la,
                                                            step[k], c.data() + r, s.data() + r, width);
      }
    }
    index.clear();
    c.clear();
    s.clear();
  }
};

}  // namespace neat::cpu
