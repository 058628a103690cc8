// The skinny GEMM kernels, for products with one small side (N <= 16 here, like a rank-8
// adapter's [T, D] x [D, R]); gemm.cpp picks them and runs them (gemm_skinny). With N = 8 the
// blocked micro-kernel's 32-wide tile would waste 3/4 of every FMA, and its packing of A, done
// to serve many B panels, would serve one. So these kernels read op(A) where it lies, unpacked,
// put their vectors along A's contiguous direction (never along N), and get their data from a
// packed copy of op(B), which is small (K x N). Two layouts, two kernels:
//
//   skinny_axpy_kernel  op(A) columns contiguous (A^T stored): vectors run down C's columns;
//                       per k step, C[i:+48, j] += A^T[i:+48, p] * op(B)[p, j] for the 8 j.
//   skinny_dot_kernel   op(A) rows contiguous (A stored): vectors run along k; per 16 k steps,
//                       3 rows x 8 columns of dot-product partial sums; lanes summed at the end.
//
// Both keep 24 accumulators (AVX-512), so no lane is wasted however narrow C is. C is addressed
// as c[i * ldc + j], or as c[j * ldc + i] when c_trans (the caller computes C^T = B^T A^T when
// M is the small side). C = alpha * op(A) op(B) + beta * C; beta == 0 never reads C.
#pragma once
#include <algorithm>
#include <cstdint>

#include "tensor/cpu/gemm_kernels.h"

namespace neat::gemm_detail {

// Tile shapes per instruction set: the axpy kernel's SV vectors of rows by SN columns, the dot
// kernel's DR rows by SN columns; SV x SN and DR x SN accumulators.
#if defined(__AVX512F__)
constexpr int kSV = 3, kDR = 3, kSN = 8;  // 24 of the 32 zmm registers
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kSV = 2, kDR = 2, kSN = 4;  // 8 of the 16 ymm registers
#else
constexpr int kSV = 4, kDR = 4, kSN = 4;
#endif

// Rows of C per axpy tile (SM, 48 for AVX-512 float) and columns per skinny tile (SN).
template <typename T>
constexpr int sm() { return kSV * Vec<T>::W; }
template <typename T>
constexpr int sn() { return kSN; }

// C[i, j] = alpha * s + beta * C[i, j] (beta == 0 never reads C).
template <typename T>
void store_c(T* c, int64_t ldc, bool c_trans, int i, int j, T s, T alpha, T beta) {
  T& cij = c_trans ? c[j * ldc + i] : c[i * ldc + j];
  cij = beta == T(0) ? alpha * s : alpha * s + beta * cij;
}

// Writes the axpy kernel's accumulators, acc[j][v] = C[v * W : +W, j], to C[0:m, 0:n].
template <typename T>
void store_tile(const typename Vec<T>::Reg (&acc)[kSN][kSV], T alpha, T beta, T* c,
                int64_t ldc, bool c_trans, int m, int n) {
  constexpr int SM = sm<T>();
  alignas(64) T tile[kSN][SM];  // tile[j][i] = C[i, j]
  for (int j = 0; j < kSN; ++j)
    for (int v = 0; v < kSV; ++v) Vec<T>::storeu(tile[j] + v * Vec<T>::W, acc[j][v]);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) store_c(c, ldc, c_trans, i, j, tile[j][i], alpha, beta);
}

#if defined(__AVX512F__)
// Float, all 8 columns of a row-major C: transpose in registers, 32 rows at a time, instead of
// 384 scalar stores. transpose16 of [acc[0:8][v]; acc[0:8][v + 1]] gives, in r[q], row q of
// rows block v in lanes 0-7 and of block v + 1 in lanes 8-15: two 8-float rows of C.
inline void store_tile(const __m512 (&acc)[8][3], float alpha, float beta, float* c,
                       int64_t ldc, bool c_trans, int m, int n) {
  if (c_trans || n < 8) return store_tile<float>(acc, alpha, beta, c, ldc, c_trans, m, n);
  const __m512 va = _mm512_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
  for (int v = 0; v < 3; v += 2) {
    __m512 r[16];
    for (int j = 0; j < 8; ++j) {
      r[j] = acc[j][v];
      r[8 + j] = v + 1 < 3 ? acc[j][v + 1] : _mm512_setzero_ps();
    }
    transpose16(r);
    for (int q = 0; q < 16; ++q) {
      const __m512d x = _mm512_castps_pd(_mm512_mul_ps(va, r[q]));
      for (int h = 0; h < 2 && v + h < 3; ++h) {
        const int i = 16 * (v + h) + q;
        if (i >= m) continue;
        __m256 y = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, x, h));
        if (beta != 0.0f) y = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + i * ldc), y);
        _mm256_storeu_ps(c + i * ldc, y);
      }
    }
  }
}
#endif

// op(A) columns contiguous: C[0:m, 0:n], m <= SM, n <= SN, from a[p * a_step + i] and a packed
// B panel b[p * SN + j]. Per step, load SV vectors of a, broadcast each of the SN values of b,
// and fused-multiply-add: AVX-512, 24 FMAs for 3 loads + 8 broadcasts. A is read down its rows
// a_step apart, which the hardware prefetcher does not follow, so the kernel prefetches the row
// it will read 8 steps later. a is T, or bfloat16 for a float kernel (widened as loaded).
template <typename T, typename S>
void skinny_axpy_kernel(int64_t k, const S* a, int64_t a_step, const T* b, T alpha, T beta,
                        T* c, int64_t ldc, bool c_trans, int m, int n) {
  using V = Vec<T>;
  constexpr int SV = kSV, SN = kSN;
  typename V::Reg acc[SN][SV];
#pragma GCC unroll 16
  for (int j = 0; j < SN; ++j)
#pragma GCC unroll 16
    for (int v = 0; v < SV; ++v) acc[j][v] = V::zero();

  for (int64_t p = 0; p < k; ++p) {
    const S* ahead = a + (p + 8 < k ? 8 * a_step : 0);
#pragma GCC unroll 16
    for (int v = 0; v < SV; ++v) __builtin_prefetch(ahead + v * V::W);
    typename V::Reg av[SV];
#pragma GCC unroll 16
    for (int v = 0; v < SV; ++v) av[v] = loadu_as(a + v * V::W);
#pragma GCC unroll 16
    for (int j = 0; j < SN; ++j) {
      typename V::Reg bj = V::set1(b[j]);
#pragma GCC unroll 16
      for (int v = 0; v < SV; ++v) acc[j][v] = V::fma(av[v], bj, acc[j][v]);
    }
    a += a_step;
    b += SN;
  }
  store_tile(acc, alpha, beta, c, ldc, c_trans, m, n);
}

// out[j] = the sum of the lanes of acc[j], for the SN accumulators of one dot-kernel row.
template <typename T>
void sum_lanes(const typename Vec<T>::Reg (&acc)[kSN], T (&out)[kSN]) {
  for (int j = 0; j < kSN; ++j) out[j] = Vec<T>::sum(acc[j]);
}

#if defined(__AVX512F__)
// Float: one tree for all 8 accumulators, 24 instructions instead of 8 x 9; each level halves
// the lanes per accumulator and packs two accumulators' halves into one register.
inline void sum_lanes(const __m512 (&a)[8], float (&out)[8]) {
  constexpr __mmask16 kAll = 0xFFFF;  // maskz forms: see transpose16
  __m512 b[4], c[2];
  for (int k = 0; k < 4; ++k)  // b[k]: 128-bit lanes 0-1 = a[2k] folded to 8 values, 2-3 = a[2k+1]
    b[k] = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, a[2 * k], a[2 * k + 1], 0x44),
                         _mm512_maskz_shuffle_f32x4(kAll, a[2 * k], a[2 * k + 1], 0xEE));
  for (int k = 0; k < 2; ++k)  // c[k]: 128-bit lane j = a[4k + j] folded to 4 values
    c[k] = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, b[2 * k], b[2 * k + 1], 0x88),
                         _mm512_maskz_shuffle_f32x4(kAll, b[2 * k], b[2 * k + 1], 0xDD));
  // lane j: [a[j], a[4 + j], a[j], a[4 + j]] folded to 2 values, then to 1
  __m512 d = _mm512_add_ps(_mm512_maskz_unpacklo_ps(kAll, c[0], c[1]),
                           _mm512_maskz_unpackhi_ps(kAll, c[0], c[1]));
  d = _mm512_add_ps(d, _mm512_maskz_shuffle_ps(kAll, d, d, 0x4E));
  alignas(64) float t[16];
  _mm512_store_ps(t, d);
  for (int j = 0; j < 4; ++j) {
    out[j] = t[4 * j];
    out[4 + j] = t[4 * j + 1];
  }
}
#endif

// op(A) rows contiguous: C[0:m, 0:n] for the first m = min(rows, DR) of the `rows` rows of A
// left from a, as DR x SN dot products of rows a[i * lda + 0:k] with the columns of op(B),
// packed in W-step blocks: bt[(p / W) * SN * W + j * W + p % W], zero past k. Per W steps,
// load DR vectors of a and SN of b for DR * SN FMAs (AVX-512: 3 + 8 loads, 24 FMAs); each
// accumulator sums its lanes once at the end, a fixed cost per row that only a long k repays.
// Meanwhile it prefetches the next DR rows: each row is a short stream, which the hardware
// prefetcher would pick up late. a is T, or bfloat16 for a float kernel (widened as loaded).
template <typename T, typename S>
void skinny_dot_kernel(int64_t k, const S* a, int64_t lda, int64_t rows, const T* bt, T alpha,
                       T beta, T* c, int64_t ldc, bool c_trans, int n) {
  using V = Vec<T>;
  constexpr int DR = kDR, SN = kSN, W = V::W;
  const int m = rows < DR ? int(rows) : DR;
  const S *row[DR], *next[DR];  // indices past the last row repeat it: never read past A
  for (int i = 0; i < DR; ++i) {
    row[i] = a + std::min<int64_t>(i, rows - 1) * lda;
    next[i] = a + std::min<int64_t>(DR + i, rows - 1) * lda;
  }
  typename V::Reg acc[DR][SN];
#pragma GCC unroll 16
  for (int i = 0; i < DR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < SN; ++j) acc[i][j] = V::zero();

  auto step = [&](const typename V::Reg (&ai)[DR], const T* b) {
#pragma GCC unroll 16
    for (int j = 0; j < SN; ++j) {
      typename V::Reg bj = V::load(b + j * W);
#pragma GCC unroll 16
      for (int i = 0; i < DR; ++i) acc[i][j] = V::fma(ai[i], bj, acc[i][j]);
    }
  };
  const int64_t full = k / W * W;
  for (int64_t p = 0; p < full; p += W, bt += SN * W) {
    typename V::Reg ai[DR];
#pragma GCC unroll 16
    for (int i = 0; i < DR; ++i) {
      __builtin_prefetch(next[i] + p);
      ai[i] = loadu_as(row[i] + p);
    }
    step(ai, bt);
  }
  if (full < k) {  // the last k % W steps
    typename V::Reg ai[DR];
    for (int i = 0; i < DR; ++i) ai[i] = load_first_as(row[i] + full, int(k - full));
    step(ai, bt);
  }
  for (int i = 0; i < m; ++i) {
    T sums[SN];
    sum_lanes(acc[i], sums);
    for (int j = 0; j < n; ++j) store_c(c, ldc, c_trans, i, j, sums[j], alpha, beta);
  }
}

}  // namespace neat::gemm_detail
