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
// instead of two of each. Each element sees the same rotations in the same order, with the same
// arithmetic, whatever the thread count and the block.
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
        const int64_t r = start[k];
        svd_rotation_chain<kRotationColumns / kSvdVecWidth>(m + j0, len, index[size_t(r)], start[k + 1] - r,
                                             step[k], c.data() + r, s.data() + r, width);
      }
    }
    index.clear();
    c.clear();
    s.clear();
  }
};

}  // namespace neat::cpu
