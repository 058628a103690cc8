// CUDA kernels of flash attention (tensor/cuda/flash_attention.h); the unfused math and the
// algorithm are in tensor/flash_attention.h, a loop-by-loop reference in
// tensor/cpu/flash_attention.h. Per query head h of batch entry b:
//   S = Q K^T / sqrt(d) + mask (+ causal)    P = softmax(S) = e^(S - m) / l    O = P V
//   D = rowsum(dO * O)   dV = P^T dO   dP = dO V^T   dS = P * (dP - D)   dQ = dS K / sqrt(d)
//   dK = dS^T Q / sqrt(d)
// Q, K, V, O and their gradients are read and written in the packed [B, N, heads * d] layout
// (tensor/packed_attention_layout.h), so no head is copied; P is never stored, only each row's
// max m and 1 / l, stats [B, H, Nq, 2]. float32 and
// bfloat16 elements (converted to float32 as the tiles are loaded), float32 math.
//
// Tiles. A block is 4 warps (128 threads) and meets a tile of 32 rows with a tile of 32 columns:
//   forward and dQ: 32 query rows (8 per warp) x 32 keys (one per lane), looping over key tiles;
//   dK / dV:        32 keys (8 per warp) x 32 query rows (one per lane), looping over the G
//                   query heads of the key / value head and their query tiles.
// 32 columns = the warp's width, so a lane owns one column of the [32, 32] score tile, and a
// row's max and sums are warp shuffles; 8 rows per warp let each K (or Q) float4 a lane loads
// serve 8 rows. Each tile product has two phases: (1) dots, s[r] = A[r] . B[lane], the warp's 8
// rows of A read as broadcasts (every lane the same float4) and B's rows padded to D + 4 floats,
// so that the 8 lanes of a quarter-warp's float4 loads fall in distinct banks; (2) accumulation,
// acc[r][c] += sum_j X[r][j] Y[j][c] with lane owning columns c = lane + 32 t, X (the warp's
// [8, 32] probabilities or dS, in shared memory) read as broadcast float4, Y's rows read
// across lanes. Accumulators, running max and sum live in float32 registers: 8 x D / 32 floats
// per accumulator. D, the padded head width, is 32, 64 or 128 (the smallest >= d and dv; the
// padding columns are zeros), a template argument so the loops unroll.
//
// Shared memory (floats; D = 128 needs more than the 48 KiB default, granted by
// cudaFuncSetAttribute; an H100 has 227 KiB per block, an A100 163 KiB):
//   forward: Q 32 D + K 32 (D + 4) + V 32 D + P 32 x 32        D = 64: 29 KiB, 128: 53 KiB
//   dK / dV: K 32 D + V 32 D + Q 32 (D + 4) + dO 32 (D + 4) + P, dS 2 x 32 x 32    41 / 73 KiB
//   dQ:      Q 32 D + dO 32 D + K 32 (D + 4) + V 32 (D + 4) + dS 32 x 32            37 / 69 KiB
// Every output element is written by one thread after summing its terms in a fixed order (no
// atomics), so the results are the same bits on every run. Indices are 32-bit: the launchers
// check that every tensor has fewer than 2^31 elements.
#include <math_constants.h>

#include <algorithm>
#include <climits>
#include <type_traits>

#include "tensor/check.h"
#include "tensor/cuda/flash_attention.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

constexpr int kTile = 32;                   // rows and columns of a tile (= kFlashRows, kFlashKeys)
constexpr int kWarps = 4;                   // warps per block
constexpr int kRows = kTile / kWarps;       // a warp's rows
constexpr int kBlock = kWarps * kWarp;      // threads per block
static_assert(kTile == kFlashRows && kTile == kFlashKeys && kTile == kWarp,
              "the tiles are the warp's width, as the CPU reference's");

// The sizes in 32-bit ints, and the mask's broadcast strides.
template <typename T>
struct Sizes {
  int heads, kv_heads, group, nq, nk, d, dv;
  bool causal;
  float scale;
  const T* mask;
  int msb, msh, msi, msj;
  __device__ int q_ld() const { return heads * d; }
  __device__ int k_ld() const { return kv_heads * d; }
  __device__ int v_ld() const { return kv_heads * dv; }
  __device__ int o_ld() const { return heads * dv; }
};

// The score of query i and key j from their dot: scaled, masked; -inf for a key that causal
// hides, or a row or column past the end.
template <typename T>
__device__ inline float score(const Sizes<T>& s, float dot, int b, int h, int i, int j) {
  if (i >= s.nq || j >= s.nk || (s.causal && j > i + s.nk - s.nq)) return -CUDART_INF_F;
  float x = dot * s.scale;
  if (s.mask != nullptr) x += float(s.mask[b * s.msb + h * s.msh + i * s.msi + j * s.msj]);
  return x;
}

// dst[r][c] (row stride ld) <- src[r src_ld + c] for r < rows, c < width, 0 for the rest of the
// [kTile, D] tile: the whole block, consecutive threads on consecutive columns.
template <int D, typename T>
__device__ inline void load_tile(float* dst, int ld, const T* src, int src_ld, int rows,
                                 int width) {
  for (int e = threadIdx.x; e < kTile * D; e += kBlock) {
    const int r = e / D, c = e % D;
    dst[r * ld + c] = r < rows && c < width ? float(src[r * src_ld + c]) : 0.f;
  }
}

// Phase 1: s[r] = A[r] . B[lane] over D; A the warp's kRows rows (stride D, broadcast), B the
// tile's rows (stride D + 4).
template <int D>
__device__ inline void row_dots(const float* A, const float* B, float (&s)[kRows]) {
  const float* b = B + (threadIdx.x % kWarp) * (D + 4);
#pragma unroll
  for (int r = 0; r < kRows; ++r) s[r] = 0;
#pragma unroll 4
  for (int c = 0; c < D; c += 4) {
    const float4 y = *reinterpret_cast<const float4*>(b + c);
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const float4 x = *reinterpret_cast<const float4*>(A + r * D + c);
      s[r] = fmaf(x.x, y.x, fmaf(x.y, y.y, fmaf(x.z, y.z, fmaf(x.w, y.w, s[r]))));
    }
  }
}

// Phase 2: acc[r][t] += sum_j X[r][j] Y[j][lane + 32 t] over the tile's 32 j; X the warp's
// kRows rows of 32 (broadcast), Y row stride ld.
template <int D>
__device__ inline void accumulate(float (&acc)[kRows][D / kWarp], const float* X, const float* Y,
                                  int ld) {
  const int lane = threadIdx.x % kWarp;
#pragma unroll 2
  for (int j = 0; j < kTile; j += 4) {
    float y[4][D / kWarp];
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int t = 0; t < D / kWarp; ++t) y[u][t] = Y[(j + u) * ld + lane + kWarp * t];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const float4 x = *reinterpret_cast<const float4*>(X + r * kTile + j);
#pragma unroll
      for (int t = 0; t < D / kWarp; ++t)
        acc[r][t] = fmaf(x.w, y[3][t],
                         fmaf(x.z, y[2][t], fmaf(x.y, y[1][t], fmaf(x.x, y[0][t], acc[r][t]))));
    }
  }
}

// A [kRows][D / 32] accumulator's columns c = lane + 32 t, written to row r of dst (stride ld)
// for r < rows, c < width, times alpha per row.
template <int D, typename T>
__device__ inline void store_rows(const float (&acc)[kRows][D / kWarp], const float (&alpha)[kRows],
                                  T* dst, int ld, int rows, int width) {
  const int lane = threadIdx.x % kWarp;
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int t = 0; t < D / kWarp; ++t)
      if (r < rows && lane + kWarp * t < width)
        dst[r * ld + lane + kWarp * t] = T(acc[r][t] * alpha[r]);
}

template <int D>
constexpr int forward_floats() { return kTile * D + kTile * (D + 4) + kTile * D + kTile * kTile; }
template <int D>
constexpr int key_floats() { return 2 * kTile * D + 2 * kTile * (D + 4) + 2 * kTile * kTile; }
template <int D>
constexpr int query_floats() { return 2 * kTile * D + 2 * kTile * (D + 4) + kTile * kTile; }

// grid (query tiles, H, B). out [B, Nq, H*dv] <- P V, stats [B, H, Nq, 2] <- (m, 1 / l).
template <int D, typename T>
__global__ void __launch_bounds__(kBlock)
    flash_forward_kernel(Sizes<T> s, const T* q, const T* k, const T* v, T* out, float* stats) {
  extern __shared__ float4 shared4[];
  float* Qs = reinterpret_cast<float*>(shared4);   // [32][D]
  float* Ks = Qs + kTile * D;                      // [32][D + 4]
  float* Vs = Ks + kTile * (D + 4);                // [32][D]
  float* Ps = Vs + kTile * D;                      // [32][32]
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int i0 = blockIdx.x * kTile, h = blockIdx.y, b = blockIdx.z, kvh = h / s.group;
  const int rows = min(kTile, s.nq - i0);
  const T* kh = k + (b * s.nk * s.kv_heads + kvh) * s.d;
  const T* vh = v + (b * s.nk * s.kv_heads + kvh) * s.dv;
  load_tile<D>(Qs, D, q + ((b * s.nq + i0) * s.heads + h) * s.d, s.q_ld(), rows, s.d);
  float m[kRows], sum[kRows], o[kRows][D / kWarp];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    m[r] = -CUDART_INF_F;
    sum[r] = 0;
#pragma unroll
    for (int t = 0; t < D / kWarp; ++t) o[r][t] = 0;
  }
  const int key_end = s.causal ? min(s.nk, i0 + rows + s.nk - s.nq) : s.nk;
  for (int j0 = 0; j0 < key_end; j0 += kTile) {
    __syncthreads();   // the previous tile's readers are done
    load_tile<D>(Ks, D + 4, kh + j0 * s.k_ld(), s.k_ld(), min(kTile, s.nk - j0), s.d);
    load_tile<D>(Vs, D, vh + j0 * s.v_ld(), s.v_ld(), min(kTile, s.nk - j0), s.dv);
    __syncthreads();
    float x[kRows];
    row_dots<D>(Qs + warp * kRows * D, Ks, x);
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      // e^(S - m) with m the new max; a row with no visible key yet keeps m = -inf and uses 0.
      const float xr = score(s, x[r], b, h, i0 + warp * kRows + r, j0 + lane);
      const float m_new = fmaxf(m[r], warp_max(xr)), base = m_new == -CUDART_INF_F ? 0.f : m_new;
      const float p = __expf(xr - base), alpha = __expf(m[r] - base);
      sum[r] = sum[r] * alpha + warp_sum(p);
      m[r] = m_new;
      Ps[(warp * kRows + r) * kTile + lane] = p;
#pragma unroll
      for (int t = 0; t < D / kWarp; ++t) o[r][t] *= alpha;
    }
    __syncwarp();
    accumulate<D>(o, Ps + warp * kRows * kTile, Vs, D);
  }
  float inv[kRows];
  const int r0 = warp * kRows, i_first = i0 + r0;
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    inv[r] = sum[r] > 0 ? 1.f / sum[r] : 0.f;   // a row with no visible key: (+inf, 0)
    if (lane == 0 && i_first + r < s.nq)
      reinterpret_cast<float2*>(stats)[(b * s.heads + h) * s.nq + i_first + r] =
          make_float2(sum[r] > 0 ? m[r] : CUDART_INF_F, inv[r]);
  }
  store_rows<D>(o, inv, out + ((b * s.nq + i_first) * s.heads + h) * s.dv, s.o_ld(),
                s.nq - i_first, s.dv);
}

// delta [B, H, Nq] <- rowsum(dO * O): one warp per row.
template <typename T>
__global__ void flash_delta_kernel(Sizes<T> s, const T* out, const T* grad_out, float* delta,
                                   int rows) {
  const int row = blockIdx.x * kWarps + threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (row >= rows) return;   // the whole warp leaves together
  const int bh = row / s.nq, i = row % s.nq, b = bh / s.heads, h = bh % s.heads;
  const int at = ((b * s.nq + i) * s.heads + h) * s.dv;
  float acc = 0;
  for (int e = lane; e < s.dv; e += kWarp) acc += float(grad_out[at + e]) * float(out[at + e]);
  acc = warp_sum(acc);
  if (lane == 0) delta[row] = acc;
}

// grid (key tiles, Hkv, B). dK, dV of the tile's keys: the sum over the G query heads of key /
// value head kvh and their query tiles (from the first that sees the tile when causal).
template <int D, typename T>
__global__ void __launch_bounds__(kBlock)
    flash_key_kernel(Sizes<T> s, const T* q, const T* k, const T* v, const float2* stats,
                     const float* delta, const T* grad_out, T* grad_k, T* grad_v) {
  extern __shared__ float4 shared4[];
  float* Ks = reinterpret_cast<float*>(shared4);   // [32][D]
  float* Vs = Ks + kTile * D;                      // [32][D]
  float* Qs = Vs + kTile * D;                      // [32][D + 4]
  float* dOs = Qs + kTile * (D + 4);               // [32][D + 4]
  float* Ps = dOs + kTile * (D + 4);               // [32][32], P^T
  float* dSs = Ps + kTile * kTile;                 // [32][32], dS^T
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int j0 = blockIdx.x * kTile, kvh = blockIdx.y, b = blockIdx.z;
  const int keys = min(kTile, s.nk - j0), at_k = (b * s.nk + j0) * s.kv_heads + kvh;
  load_tile<D>(Ks, D, k + at_k * s.d, s.k_ld(), keys, s.d);
  load_tile<D>(Vs, D, v + at_k * s.dv, s.v_ld(), keys, s.dv);
  float dk[kRows][D / kWarp], dv[kRows][D / kWarp];
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int t = 0; t < D / kWarp; ++t) dk[r][t] = dv[r][t] = 0;
  const int first = s.causal ? max(0, j0 - (s.nk - s.nq)) / kTile * kTile : 0;
  for (int h = kvh * s.group; h < (kvh + 1) * s.group; ++h)
    for (int i0 = first; i0 < s.nq; i0 += kTile) {
      __syncthreads();   // the previous tile's readers are done
      const int rows = min(kTile, s.nq - i0), at_q = (b * s.nq + i0) * s.heads + h;
      load_tile<D>(Qs, D + 4, q + at_q * s.d, s.q_ld(), rows, s.d);
      load_tile<D>(dOs, D + 4, grad_out + at_q * s.dv, s.o_ld(), rows, s.dv);
      __syncthreads();
      float x[kRows], dp[kRows];
      row_dots<D>(Ks + warp * kRows * D, Qs, x);    // S^T[j][i] = K_j . Q_i, i = i0 + lane
      row_dots<D>(Vs + warp * kRows * D, dOs, dp);  // dP^T[j][i] = V_j . dO_i
      const int i = i0 + lane, row = (b * s.heads + h) * s.nq + i;
      const float2 mi = i < s.nq ? stats[row] : make_float2(CUDART_INF_F, 0.f);
      const float Di = i < s.nq ? delta[row] : 0.f;
#pragma unroll
      for (int r = 0; r < kRows; ++r) {   // P = e^(S - m) / l: 0 where masked or m = +inf
        const float p = __expf(score(s, x[r], b, h, i, j0 + warp * kRows + r) - mi.x) * mi.y;
        Ps[(warp * kRows + r) * kTile + lane] = p;
        dSs[(warp * kRows + r) * kTile + lane] = p * (dp[r] - Di);
      }
      __syncwarp();
      accumulate<D>(dv, Ps + warp * kRows * kTile, dOs, D + 4);   // dV += P^T dO
      accumulate<D>(dk, dSs + warp * kRows * kTile, Qs, D + 4);   // dK += dS^T Q
    }
  const int r0 = warp * kRows;
  float scale[kRows], one[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) scale[r] = s.scale, one[r] = 1.f;
  if (grad_k != nullptr)
    store_rows<D>(dk, scale, grad_k + (at_k + r0 * s.kv_heads) * s.d, s.k_ld(), keys - r0, s.d);
  if (grad_v != nullptr)
    store_rows<D>(dv, one, grad_v + (at_k + r0 * s.kv_heads) * s.dv, s.v_ld(), keys - r0, s.dv);
}

// grid (query tiles, H, B). dQ of the tile's rows: the sum over the key tiles they see.
template <int D, typename T>
__global__ void __launch_bounds__(kBlock)
    flash_query_kernel(Sizes<T> s, const T* q, const T* k, const T* v, const float2* stats,
                       const float* delta, const T* grad_out, T* grad_q) {
  extern __shared__ float4 shared4[];
  float* Qs = reinterpret_cast<float*>(shared4);   // [32][D]
  float* dOs = Qs + kTile * D;                     // [32][D]
  float* Ks = dOs + kTile * D;                     // [32][D + 4]
  float* Vs = Ks + kTile * (D + 4);                // [32][D + 4]
  float* dSs = Vs + kTile * (D + 4);               // [32][32]
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int i0 = blockIdx.x * kTile, h = blockIdx.y, b = blockIdx.z, kvh = h / s.group;
  const int rows = min(kTile, s.nq - i0), at_q = (b * s.nq + i0) * s.heads + h;
  load_tile<D>(Qs, D, q + at_q * s.d, s.q_ld(), rows, s.d);
  load_tile<D>(dOs, D, grad_out + at_q * s.dv, s.o_ld(), rows, s.dv);
  const int r0 = warp * kRows;
  float2 mi[kRows];
  float Di[kRows], dq[kRows][D / kWarp];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const bool in = r0 + r < rows;
    const int row = (b * s.heads + h) * s.nq + i0 + r0 + r;
    mi[r] = in ? stats[row] : make_float2(CUDART_INF_F, 0.f);
    Di[r] = in ? delta[row] : 0.f;
#pragma unroll
    for (int t = 0; t < D / kWarp; ++t) dq[r][t] = 0;
  }
  const T* kh = k + (b * s.nk * s.kv_heads + kvh) * s.d;
  const T* vh = v + (b * s.nk * s.kv_heads + kvh) * s.dv;
  const int key_end = s.causal ? min(s.nk, i0 + rows + s.nk - s.nq) : s.nk;
  for (int j0 = 0; j0 < key_end; j0 += kTile) {
    __syncthreads();   // the previous tile's readers are done
    load_tile<D>(Ks, D + 4, kh + j0 * s.k_ld(), s.k_ld(), min(kTile, s.nk - j0), s.d);
    load_tile<D>(Vs, D + 4, vh + j0 * s.v_ld(), s.v_ld(), min(kTile, s.nk - j0), s.dv);
    __syncthreads();
    float x[kRows], dp[kRows];
    row_dots<D>(Qs + r0 * D, Ks, x);     // S[i][j] = Q_i . K_j, j = j0 + lane
    row_dots<D>(dOs + r0 * D, Vs, dp);   // dP[i][j] = dO_i . V_j
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const float p = __expf(score(s, x[r], b, h, i0 + r0 + r, j0 + lane) - mi[r].x) * mi[r].y;
      dSs[(r0 + r) * kTile + lane] = p * (dp[r] - Di[r]);
    }
    __syncwarp();
    accumulate<D>(dq, dSs + r0 * kTile, Ks, D + 4);   // dQ += dS K
  }
  float scale[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) scale[r] = s.scale;
  store_rows<D>(dq, scale, grad_q + (at_q + r0 * s.heads) * s.d, s.q_ld(), rows - r0, s.d);
}

// The sizes in 32-bit ints; an error when a tensor has 2^31 elements or more, or a head is wider
// than kFlashMaxHead.
template <typename T>
Sizes<T> sizes_of(const PackedAttentionLayout& l, const AttentionMask<T>& mask, const char* op) {
  NEAT_CHECK(l.d <= kFlashMaxHead && l.dv <= kFlashMaxHead, op, ": head sizes d ", l.d, ", dv ",
             l.dv, ": the CUDA kernels take up to ", kFlashMaxHead);
  const int64_t mask_end = mask.data == nullptr ? 0
                           : (l.batch - 1) * mask.sb + (l.heads - 1) * mask.sh +
                                 (l.nq - 1) * mask.si + (l.nk - 1) * mask.sj + 1;
  const int64_t most = std::max({l.batch * l.nq * l.heads * std::max(l.d, l.dv),
                                 l.batch * l.nk * l.kv_heads * std::max(l.d, l.dv), mask_end});
  NEAT_CHECK(most < INT_MAX, op, ": ", most, " elements in a tensor: the kernels index in 32 bits");
  NEAT_CHECK(l.batch <= 65535 && l.heads <= 65535, op, ": batch ", l.batch, " and heads ", l.heads,
             " must each be at most 65535 (the grid's y and z)");
  auto narrow = [](int64_t x) { return int(x); };
  return {narrow(l.heads), narrow(l.kv_heads), narrow(l.group()), narrow(l.nq), narrow(l.nk),
          narrow(l.d), narrow(l.dv), l.causal, float(l.scale), mask.data, narrow(mask.sb),
          narrow(mask.sh), narrow(mask.si), narrow(mask.sj)};
}

// Calls fn(std::integral_constant<int, D>) with D the padded head width: 32, 64 or 128.
template <typename Fn>
void with_head_width(const PackedAttentionLayout& l, Fn&& fn) {
  const int64_t w = std::max(l.d, l.dv);
  if (w <= 32) fn(std::integral_constant<int, 32>{});
  else if (w <= 64) fn(std::integral_constant<int, 64>{});
  else fn(std::integral_constant<int, 128>{});
}

// Launches kernel with `floats` floats of dynamic shared memory, raising the kernel's limit past
// the 48 KiB default when needed.
template <typename Kernel, typename... Args>
void launch(Kernel kernel, dim3 grid, int floats, Args... args) {
  const int bytes = floats * int(sizeof(float));
  if (bytes > 48 * 1024)
    NEAT_CUDA_CHECK(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  kernel<<<grid, kBlock, bytes, stream()>>>(args...);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

constexpr const char* kNoDouble =
    ": no float64 CUDA kernel (float64 flash attention is the CPU's reference)";

}  // namespace

bool flash_attention_preferred(Cuda, DType dtype, int64_t d, int64_t dv) {
  return (dtype == DType::Float32 || dtype == DType::BFloat16) && d <= kFlashMaxHead &&
         dv <= kFlashMaxHead;
}

template <typename T>
void flash_attention_forward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                             const T* v, AttentionMask<T> mask, T* out, math_t<T>* stats) {
  if constexpr (std::is_same_v<T, double>) {
    NEAT_CHECK(false, "flash_attention", kNoDouble);
  } else {
    const Sizes<T> s = sizes_of(l, mask, "flash_attention");
    if (l.pairs() == 0 || l.nq == 0) return;
    const dim3 grid(unsigned((l.nq + kTile - 1) / kTile), unsigned(l.heads), unsigned(l.batch));
    with_head_width(l, [&](auto width) {
      constexpr int D = decltype(width)::value;
      launch(flash_forward_kernel<D, T>, grid, forward_floats<D>(), s, q, k, v, out, stats);
    });
  }
}

template <typename T>
void flash_attention_backward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                              const T* v, AttentionMask<T> mask, const T* out,
                              const math_t<T>* stats, const T* grad_out, T* grad_q, T* grad_k,
                              T* grad_v) {
  if constexpr (std::is_same_v<T, double>) {
    NEAT_CHECK(false, "flash_attention_backward", kNoDouble);
  } else {
    const Sizes<T> s = sizes_of(l, mask, "flash_attention_backward");
    const float2* row_stats = reinterpret_cast<const float2*>(stats);   // (m, 1 / l) per row
    if (l.pairs() == 0) return;
    // With Nq = 0 (or Nk = 0) the key (query) kernel still runs, and writes zeros.
    const int rows = int(l.pairs() * l.nq);
    Scratch<float> delta(rows);
    if (rows > 0) {
      flash_delta_kernel<<<unsigned((rows + kWarps - 1) / kWarps), kBlock, 0, stream()>>>(
          s, out, grad_out, delta.data(), rows);
      NEAT_CUDA_CHECK(cudaGetLastError());
    }
    with_head_width(l, [&](auto width) {
      constexpr int D = decltype(width)::value;
      if ((grad_k != nullptr || grad_v != nullptr) && l.nk > 0)
        launch(flash_key_kernel<D, T>,
               dim3(unsigned((l.nk + kTile - 1) / kTile), unsigned(l.kv_heads), unsigned(l.batch)),
               key_floats<D>(), s, q, k, v, row_stats, delta.data(), grad_out, grad_k, grad_v);
      if (grad_q != nullptr && l.nq > 0)
        launch(flash_query_kernel<D, T>,
               dim3(unsigned((l.nq + kTile - 1) / kTile), unsigned(l.heads), unsigned(l.batch)),
               query_floats<D>(), s, q, k, v, row_stats, delta.data(), grad_out, grad_q);
    });
  }
}

template void flash_attention_forward(Cuda, const PackedAttentionLayout&, const float*,
                                      const float*, const float*, AttentionMask<float>, float*,
                                      float*);
template void flash_attention_forward(Cuda, const PackedAttentionLayout&, const bfloat16*,
                                      const bfloat16*, const bfloat16*, AttentionMask<bfloat16>,
                                      bfloat16*, float*);
template void flash_attention_forward(Cuda, const PackedAttentionLayout&, const double*,
                                      const double*, const double*, AttentionMask<double>,
                                      double*, double*);
template void flash_attention_backward(Cuda, const PackedAttentionLayout&, const float*,
                                       const float*, const float*, AttentionMask<float>,
                                       const float*, const float*, const float*, float*, float*,
                                       float*);
template void flash_attention_backward(Cuda, const PackedAttentionLayout&, const bfloat16*,
                                       const bfloat16*, const bfloat16*, AttentionMask<bfloat16>,
                                       const bfloat16*, const float*, const bfloat16*, bfloat16*,
                                       bfloat16*, bfloat16*);
template void flash_attention_backward(Cuda, const PackedAttentionLayout&, const double*,
                                       const double*, const double*, AttentionMask<double>,
                                       const double*, const double*, const double*, double*,
                                       double*, double*);

}  // namespace neat::cuda
