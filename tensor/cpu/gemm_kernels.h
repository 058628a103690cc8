// The GEMM micro-kernel: one MR x NR tile of C from packed panels of A and B, held in
// registers for the whole k loop, stored with masks at the edges; plus pack_rows, the one
// packing step that needs SIMD shuffles, and Vec, the SIMD operations that these and the skinny
// kernels (gemm_skinny_kernels.h) are written in. Only gemm.cpp includes this (also through
// gemm_skinny_kernels.h); see there for the blocking.
//
//   a: packed A micro-panel, kc x MR (for each p, MR values of one column of op(A))
//   b: packed B micro-panel, kc x NR (for each p, NR values of one row of op(B))
//   c: C tile, MR x NR, row stride ldc
//   bias: NR values added to every row of the tile, or null
//   residual: an MR x NR tile added last (row stride ldc, like c), or null
//   C = alpha * a^T b + beta * C + bias + residual; beta == 0 never reads C (BLAS: NaN/Inf in C
//   are ignored).
//
// Each step p does one rank-1 update of the tile: load NR/W vectors of b, broadcast each of
// the MR values of a, and fused-multiply-add. Registers are what fix MR x NR:
//   AVX-512 (32 zmm): MR=14, NR=2 vectors -> 28 accumulators + 2 b + 1 broadcast = 31 regs.
//   AVX2    (16 ymm): MR=6,  NR=2 vectors -> 12 accumulators + 2 b + 1 broadcast = 15 regs.
//   portable:          MR=4,  NR=8 scalars -> a plain loop the compiler may vectorise.
// With two FMA units a step is 28 FMAs = 14 cycles against 2 loads + 14 broadcasts, so the
// kernel is bound by FMA throughput, not by loads: that is the whole point of the tile.
#pragma once
#include <cstdint>
#include <cstring>

#include "tensor/half.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace neat::gemm_detail {

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// Sum of the lanes of a 256-bit vector (halves, then pairs, then the last two).
inline float hsum(__m256 x) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
inline double hsum(__m256d x) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd(x, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#endif

// Vec<T>: the SIMD register type for T and the handful of operations the kernels use.
template <typename T>
struct Vec;

#if defined(__AVX512F__)
constexpr int kMR = 14;
template <>
struct Vec<float> {
  using Reg = __m512;
  static constexpr int W = 16;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float x) { return _mm512_set1_ps(x); }
  static Reg load(const float* p) { return _mm512_load_ps(p); }  // packed: 64-byte aligned
  static Reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static Reg load_first(const float* p, int n) {  // p[0:n], zeros after; reads nothing past
    return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
  }
  static void storeu(float* p, Reg x) { _mm512_storeu_ps(p, x); }
  static void store_first(float* p, Reg x, int n) {  // p[0:n] only
    _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), x);
  }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static float sum(Reg x) {  // maskz form: see transpose16
    __m256d lo = _mm512_maskz_extractf64x4_pd(0xFF, _mm512_castps_pd(x), 0);
    __m256d hi = _mm512_maskz_extractf64x4_pd(0xFF, _mm512_castps_pd(x), 1);
    return hsum(_mm256_add_ps(_mm256_castpd_ps(lo), _mm256_castpd_ps(hi)));
  }
};
template <>
struct Vec<double> {
  using Reg = __m512d;
  static constexpr int W = 8;
  static Reg zero() { return _mm512_setzero_pd(); }
  static Reg set1(double x) { return _mm512_set1_pd(x); }
  static Reg load(const double* p) { return _mm512_load_pd(p); }
  static Reg loadu(const double* p) { return _mm512_loadu_pd(p); }
  static Reg load_first(const double* p, int n) {
    return _mm512_maskz_loadu_pd(__mmask8((1u << n) - 1), p);
  }
  static void storeu(double* p, Reg x) { _mm512_storeu_pd(p, x); }
  static void store_first(double* p, Reg x, int n) {
    _mm512_mask_storeu_pd(p, __mmask8((1u << n) - 1), x);
  }
  static Reg add(Reg a, Reg b) { return _mm512_add_pd(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_pd(a, b); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_pd(a, b, c); }
  static double sum(Reg x) {
    return hsum(_mm256_add_pd(_mm512_maskz_extractf64x4_pd(0xFF, x, 0),
                              _mm512_maskz_extractf64x4_pd(0xFF, x, 1)));
  }
};
constexpr int kNV = 2;  // vectors per tile row

#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kMR = 6;
template <>
struct Vec<float> {
  using Reg = __m256;
  static constexpr int W = 8;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg set1(float x) { return _mm256_set1_ps(x); }
  static Reg load(const float* p) { return _mm256_load_ps(p); }
  static Reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static Reg load_first(const float* p, int n) {  // lanes whose mask sign bit is set
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
                                                    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
  }
  static void storeu(float* p, Reg x) { _mm256_storeu_ps(p, x); }
  static void store_first(float* p, Reg x, int n) {
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), x);
  }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static float sum(Reg x) { return hsum(x); }
};
template <>
struct Vec<double> {
  using Reg = __m256d;
  static constexpr int W = 4;
  static Reg zero() { return _mm256_setzero_pd(); }
  static Reg set1(double x) { return _mm256_set1_pd(x); }
  static Reg load(const double* p) { return _mm256_load_pd(p); }
  static Reg loadu(const double* p) { return _mm256_loadu_pd(p); }
  static Reg load_first(const double* p, int n) {
    return _mm256_maskload_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n),
                                                    _mm256_setr_epi64x(0, 1, 2, 3)));
  }
  static void storeu(double* p, Reg x) { _mm256_storeu_pd(p, x); }
  static void store_first(double* p, Reg x, int n) {
    _mm256_maskstore_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n),
                                              _mm256_setr_epi64x(0, 1, 2, 3)), x);
  }
  static Reg add(Reg a, Reg b) { return _mm256_add_pd(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_pd(a, b); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_pd(a, b, c); }
  static double sum(Reg x) { return hsum(x); }
};
constexpr int kNV = 2;

#else
// Portable fallback: a "vector" of one scalar. Not fast, but correct on any compiler/CPU.
constexpr int kMR = 4;
template <typename T>
struct Vec {
  using Reg = T;
  static constexpr int W = 1;
  static Reg zero() { return T(0); }
  static Reg set1(T x) { return x; }
  static Reg load(const T* p) { return *p; }
  static Reg loadu(const T* p) { return *p; }
  static Reg load_first(const T* p, int n) { return n > 0 ? *p : T(0); }
  static void storeu(T* p, Reg x) { *p = x; }
  static void store_first(T* p, Reg x, int n) {
    if (n > 0) *p = x;
  }
  static Reg add(Reg a, Reg b) { return a + b; }
  static Reg mul(Reg a, Reg b) { return a * b; }
  static Reg fma(Reg a, Reg b, Reg c) { return a * b + c; }
  static T sum(Reg x) { return x; }
};
constexpr int kNV = 8;
#endif

// Loads of packing's source, which may be bfloat16 for a float kernel (the bf16 GEMM's
// conversion path: bf16 -> float32 is a 16-bit shift): W values from p, and the first n of them
// (zeros after; reads nothing past p + n).
template <typename T>
typename Vec<T>::Reg loadu_as(const T* p) { return Vec<T>::loadu(p); }
template <typename T>
typename Vec<T>::Reg load_first_as(const T* p, int n) { return Vec<T>::load_first(p, n); }

#if defined(__AVX512F__)
inline __m512 widen_bf16(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline Vec<float>::Reg loadu_as(const bfloat16* p) {
  return widen_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
#elif defined(__AVX2__) && defined(__FMA__)
inline __m256 widen_bf16(__m128i h) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline Vec<float>::Reg loadu_as(const bfloat16* p) {
  return widen_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
#else
inline float loadu_as(const bfloat16* p) { return float(*p); }
#endif
inline Vec<float>::Reg load_first_as(const bfloat16* p, int n) {
  if (n >= Vec<float>::W) return loadu_as(p);  // the common case: a whole vector
  bfloat16 part[Vec<float>::W] = {};  // zeros: bf16 0x0000 is +0
  std::memcpy(part, p, sizeof(bfloat16) * size_t(n < 0 ? 0 : n));
  return loadu_as(part);
}

// Tile sizes per element type: MR rows of C by NR columns.
template <typename T>
constexpr int mr() { return kMR; }
template <typename T>
constexpr int nr() { return kNV * Vec<T>::W; }

#if defined(__AVX512F__)
// In-register transpose of a 16 x 16 float block: r[i][j] -> r[j][i].
// (The maskz forms with an all-ones mask compile to the plain instructions; they avoid GCC 12's
// false -Wmaybe-uninitialized warning from the plain forms' _mm512_undefined_ps.)
inline void transpose16(__m512 r[16]) {
  constexpr __mmask16 kAll = 0xFFFF;
  __m512 t[16], u[16];
  for (int k = 0; k < 8; ++k) {  // per 128-bit lane: interleave rows 2k, 2k+1
    t[2 * k] = _mm512_maskz_unpacklo_ps(kAll, r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_maskz_unpackhi_ps(kAll, r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 4; ++k) {  // u[4k+c], lane l = column 4l+c of rows 4k..4k+3
    u[4 * k + 0] = _mm512_maskz_shuffle_ps(kAll, t[4 * k], t[4 * k + 2], 0x44);
    u[4 * k + 1] = _mm512_maskz_shuffle_ps(kAll, t[4 * k], t[4 * k + 2], 0xEE);
    u[4 * k + 2] = _mm512_maskz_shuffle_ps(kAll, t[4 * k + 1], t[4 * k + 3], 0x44);
    u[4 * k + 3] = _mm512_maskz_shuffle_ps(kAll, t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {  // 4 x 4 transpose of 128-bit lanes: column 4l+c gets lane l
    __m512 x0 = _mm512_maskz_shuffle_f32x4(kAll, u[c], u[4 + c], 0x44);
    __m512 x1 = _mm512_maskz_shuffle_f32x4(kAll, u[c], u[4 + c], 0xEE);
    __m512 x2 = _mm512_maskz_shuffle_f32x4(kAll, u[8 + c], u[12 + c], 0x44);
    __m512 x3 = _mm512_maskz_shuffle_f32x4(kAll, u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_maskz_shuffle_f32x4(kAll, x0, x2, 0x88);
    r[4 + c] = _mm512_maskz_shuffle_f32x4(kAll, x0, x2, 0xDD);
    r[8 + c] = _mm512_maskz_shuffle_f32x4(kAll, x1, x3, 0x88);
    r[12 + c] = _mm512_maskz_shuffle_f32x4(kAll, x1, x3, 0xDD);
  }
}
#endif

// One MR x NV*W tile: accumulate a^T b over kc steps in registers, then write C once: its first
// m rows and n columns (m <= MR, n <= NV*W), in masked vectors at the right edge. The packed
// panels are zero-padded to full tiles, so an edge tile costs what a full one does, and an edge
// of at most W columns takes the NV = 1 kernel (half a tile's FMAs). b steps NR per k step
// whatever NV is: the panel is NR wide.
template <typename T, int NV>
void micro_kernel(int64_t kc, const T* a, const T* b, T alpha, T beta, const T* bias,
                  const T* residual, T* c, int64_t ldc, int m, int n) {
  using V = Vec<T>;
  constexpr int MR = mr<T>(), NR = nr<T>();
  // Ask for the C tile now so its (likely cache-missing) lines arrive during the k loop
  // instead of stalling the write-back at the end.
  for (int i = 0; i < m; ++i) {
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + n - 1, 1);
  }
  typename V::Reg acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();

  // Unrolled: on AVX2 a step is 12 FMAs and 8 loads, and the loop's own counter and pointer
  // updates would otherwise take front-end slots the FMAs need.
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    typename V::Reg bv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * V::W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      typename V::Reg ai = V::set1(a[i]);
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fma(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += NR;
  }

  const typename V::Reg va = V::set1(alpha), vb = V::set1(beta);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      const int cols = n - v * V::W;  // of this vector's W columns, how many are C's
      if (i >= m || cols <= 0) continue;
      T* ci = c + i * ldc + v * V::W;
      const T* ri = residual + i * ldc + v * V::W;  // used only when residual is not null
      typename V::Reg r = V::mul(va, acc[i][v]);
      if (cols >= V::W) {
        if (beta != T(0)) r = V::fma(vb, V::loadu(ci), r);
        if (bias != nullptr) r = V::add(r, V::loadu(bias + v * V::W));
        if (residual != nullptr) r = V::add(r, V::loadu(ri));
        V::storeu(ci, r);
      } else {
        if (beta != T(0)) r = V::fma(vb, V::load_first(ci, cols), r);
        if (bias != nullptr) r = V::add(r, V::load_first(bias + v * V::W, cols));
        if (residual != nullptr) r = V::add(r, V::load_first(ri, cols));
        V::store_first(ci, r, cols);
      }
    }
}

// pack_rows: one panel from the first m of P rows of X (row stride ld, m <= P), transposed so
// that the P values of each k step are contiguous: dst[p*P + i] = src[i*ld + p] for p < kc,
// zero for the rows past m. That is P strided reads per step, hence pack_rows_simd, which does
// a prefix of the k steps and returns how many (none, unless there is a SIMD version for T).
template <int P, typename S, typename T>
int64_t pack_rows_simd(const S*, int64_t, int64_t, T*, int) {
  return 0;
}

#if !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
// In-register transpose of an 8 x 8 float block: r[i][j] -> r[j][i] (AVX2's transpose16).
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int k = 0; k < 4; ++k) {  // per 128-bit lane: interleave rows 2k, 2k+1
    t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 2; ++k) {  // u[4k+c]: column c (low lane), c+4 (high) of rows 4k..4k+3
    u[4 * k + 0] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
    u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
    u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
    u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {  // rows 0-3 from u[c], rows 4-7 from u[4+c]
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}
#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// The W x W float transpose of this ISA's vectors (W = 16 on AVX-512, 8 on AVX2).
#if defined(__AVX512F__)
inline void transpose_block(__m512 r[16]) { transpose16(r); }
#else
inline void transpose_block(__m256 r[8]) { transpose8(r); }
#endif

// Float, W k steps at a time, W rows at a time (rows past m, and a short last group's, like
// a 14-row panel's, load as zeros): transpose, then store the panel's values of each of the W
// k steps. ~4x fewer instructions than the scalar loop. Returns the k steps done (a multiple
// of W). The source is float or bfloat16 (widened as it is loaded).
template <int P, typename S>
int64_t pack_rows_simd(const S* src, int64_t ld, int64_t kc, float* dst, int m) {
  using V = Vec<float>;
  constexpr int W = V::W;
  int64_t p = 0;
  for (; p + W <= kc; p += W)
#pragma GCC unroll 4
    for (int g = 0; g < P; g += W) {
      const int width = P - g < W ? P - g : W;         // this group's share of the panel
      const int rows = m - g < width ? m - g : width;  // ... that holds rows of X
      V::Reg r[W];
      for (int i = 0; i < W; ++i)
        r[i] = i < rows ? loadu_as(src + (g + i) * ld + p) : V::zero();
      if (rows > 0) transpose_block(r);  // past the last row: zeros, no shuffles
      for (int q = 0; q < W; ++q) {
        if (width == W) V::storeu(dst + (p + q) * P + g, r[q]);
        else V::store_first(dst + (p + q) * P + g, r[q], width);
      }
    }
  return p;
}
#endif

template <int P, typename S, typename T>
void pack_rows(const S* src, int64_t ld, int64_t kc, T* dst, int m) {
  int64_t p = pack_rows_simd<P>(src, ld, kc, dst, m);
  if (m == P) {
    for (; p < kc; ++p)
      for (int i = 0; i < P; ++i) dst[p * P + i] = static_cast<T>(src[i * ld + p]);
  } else {
    for (; p < kc; ++p)
      for (int i = 0; i < P; ++i) dst[p * P + i] = i < m ? static_cast<T>(src[i * ld + p]) : T(0);
  }
}

}  // namespace neat::gemm_detail
