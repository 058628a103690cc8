// CPU kernels of flash attention (tensor/flash_attention.h): a reference of the CUDA kernels'
// algorithm (tensor/cuda/flash_attention.cu) in plain loops, with the same tiles (kFlashRows
// query rows x kFlashKeys keys), the same online softmax and the same split of the backward into
// a dK / dV pass over key blocks and a dQ pass over query blocks, so that the op table checks the
// algorithm in float64 here and the CUDA kernels against it on a GPU. Math in math_t<T> (float
// for float32, double for float64). Packed attention does not take this path on the CPU
// (flash_attention_preferred): tensor/cpu/packed_attention.h's GEMMs are faster here.
//
// Shapes: q [B, Nq, H*d], k [B, Nk, Hkv*d], v [B, Nk, Hkv*dv], out, grad_out [B, Nq, H*dv],
// stats [B, H, Nq, 2]: per row m and 1 / l (tensor/packed_attention_layout.h).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tensor/cpu/device.h"
#include "tensor/dtype.h"
#include "tensor/half.h"
#include "tensor/packed_attention_layout.h"

namespace neat::cpu {

inline bool flash_attention_preferred(Cpu, DType, int64_t, int64_t) { return false; }

namespace flash {

// One (b, h) pair's view of the packed tensors: row i of Q is q + i q_ld, and so on.
template <typename T>
struct Head {
  int64_t b, h;
  const T *q, *k, *v;
  int64_t q_ld, k_ld, v_ld;
};

template <typename T>
Head<T> head_of(const PackedAttentionLayout& l, const T* q, const T* k, const T* v, int64_t b,
                int64_t h) {
  return {b, h, q + l.q_offset(b, h), k + l.k_offset(b, h), v + l.v_offset(b, h),
          l.heads * l.d, l.kv_heads * l.d, l.kv_heads * l.dv};
}

template <typename M, typename T>
M dot(const T* x, const T* y, int64_t n) {
  M s = 0;
  for (int64_t c = 0; c < n; ++c) s += M(x[c]) * M(y[c]);
  return s;
}

// S[i][j] = Q_i . K_j scale + mask(b, h, i, j); -inf where causal hides key j from query i.
template <typename M, typename T>
M score(const PackedAttentionLayout& l, const Head<T>& hd, const AttentionMask<T>& mask, int64_t i,
        int64_t j) {
  if (l.causal && j > l.last_key(i)) return -std::numeric_limits<M>::infinity();
  M s = dot<M>(hd.q + i * hd.q_ld, hd.k + j * hd.k_ld, l.d) * M(l.scale);
  if (mask.data != nullptr)
    s += M(mask.data[hd.b * mask.sb + hd.h * mask.sh + i * mask.si + j * mask.sj]);
  return s;
}

// The keys [0, end) that query rows [i0, i1) may see: causal hides those after row i1 - 1's last.
inline int64_t key_end(const PackedAttentionLayout& l, int64_t i1) {
  return l.causal ? std::min(l.nk, l.last_key(i1 - 1) + 1) : l.nk;
}
// The first query row that sees key j0 or a later one when causal (0 otherwise).
inline int64_t first_query(const PackedAttentionLayout& l, int64_t j0) {
  return l.causal ? std::max<int64_t>(0, j0 - (l.nk - l.nq)) : 0;
}

inline int64_t blocks(int64_t n, int64_t tile) { return (n + tile - 1) / tile; }

// P = e^(S - m) / l from S and the row's stats (m, 1 / l); 0 for a row with no visible key,
// whose stats are (+inf, 0).
template <typename M>
M probability(M s, const M* stats) { return std::exp(s - stats[0]) * stats[1]; }

}  // namespace flash

// out <- softmax(S) V and stats <- (m, 1 / l), one task per (b, h, block of kFlashRows rows);
// each task walks the key blocks with its rows' running max m, sum l and unnormalised O.
template <typename T>
void flash_attention_forward(Cpu, const PackedAttentionLayout& l, const T* q, const T* k,
                             const T* v, AttentionMask<T> mask, T* out, math_t<T>* stats) {
  using M = math_t<T>;
  const M inf = std::numeric_limits<M>::infinity();
  const int64_t row_blocks = flash::blocks(l.nq, kFlashRows), out_ld = l.heads * l.dv;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < l.pairs() * row_blocks; ++t) {
    const int64_t b = t / (l.heads * row_blocks), h = t / row_blocks % l.heads;
    const int64_t i0 = t % row_blocks * kFlashRows, i1 = std::min(l.nq, i0 + kFlashRows);
    const flash::Head<T> hd = flash::head_of(l, q, k, v, b, h);
    const size_t rows = size_t(i1 - i0);
    std::vector<M> m(rows, -inf), sum(rows, 0), o(rows * size_t(l.dv), 0);
    M p[kFlashKeys];
    for (int64_t j0 = 0; j0 < flash::key_end(l, i1); j0 += kFlashKeys) {
      const int64_t j1 = std::min(flash::key_end(l, i1), j0 + kFlashKeys);
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t r = i - i0;
        M tile_max = -inf;
        for (int64_t j = j0; j < j1; ++j) {
          p[j - j0] = flash::score<M>(l, hd, mask, i, j);
          tile_max = std::max(tile_max, p[j - j0]);
        }
        // e^(S - m) with m the new max; a row with no visible key yet keeps m = -inf and uses 0.
        const M m_new = std::max(m[size_t(r)], tile_max), base = m_new == -inf ? M(0) : m_new;
        const M alpha = std::exp(m[size_t(r)] - base);
        M tile_sum = 0;
        for (int64_t j = j0; j < j1; ++j) tile_sum += p[j - j0] = std::exp(p[j - j0] - base);
        sum[size_t(r)] = sum[size_t(r)] * alpha + tile_sum;
        m[size_t(r)] = m_new;
        M* o_row = o.data() + r * l.dv;
        for (int64_t e = 0; e < l.dv; ++e) {
          M acc = 0;
          for (int64_t j = j0; j < j1; ++j) acc += p[j - j0] * M(hd.v[j * hd.v_ld + e]);
          o_row[e] = o_row[e] * alpha + acc;
        }
      }
    }
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t r = i - i0;
      const M s = sum[size_t(r)], rs = s > 0 ? M(1) / s : M(0);
      T* out_row = out + l.out_offset(b, h) + i * out_ld;
      for (int64_t e = 0; e < l.dv; ++e) out_row[e] = T(o[size_t(r * l.dv + e)] * rs);
      M* row_stats = stats + 2 * ((b * l.heads + h) * l.nq + i);
      row_stats[0] = s > 0 ? m[size_t(r)] : inf;
      row_stats[1] = rs;
    }
  }
}

// dK and dV of key block [j0, j1) of key / value head kvh: sums over the group's G query heads and
// every query block that sees it, P = e^(S - m) / l recomputed. dk, dv: [j1 - j0, d] and
// [j1 - j0, dv].
template <typename T>
void flash_key_block_gradients(const PackedAttentionLayout& l, const T* q, const T* k, const T* v,
                               const AttentionMask<T>& mask, const T* grad_out,
                               const math_t<T>* stats, const math_t<T>* delta, int64_t b,
                               int64_t kvh, int64_t j0, int64_t j1, math_t<T>* dk,
                               math_t<T>* dv) {
  using M = math_t<T>;
  const int64_t out_ld = l.heads * l.dv;
  for (int64_t h = kvh * l.group(); h < (kvh + 1) * l.group(); ++h) {
    const flash::Head<T> hd = flash::head_of(l, q, k, v, b, h);
    const T* dout = grad_out + l.out_offset(b, h);
    const int64_t row0 = (b * l.heads + h) * l.nq;
    for (int64_t i = flash::first_query(l, j0) / kFlashRows * kFlashRows; i < l.nq; ++i)
      for (int64_t j = j0; j < j1; ++j) {
        const M p = flash::probability(flash::score<M>(l, hd, mask, i, j), stats + 2 * (row0 + i));
        const M dp = flash::dot<M>(dout + i * out_ld, hd.v + j * hd.v_ld, l.dv);
        const M ds = p * (dp - delta[row0 + i]);
        M* dk_row = dk + (j - j0) * l.d;
        M* dv_row = dv + (j - j0) * l.dv;
        for (int64_t e = 0; e < l.dv; ++e) dv_row[e] += p * M(dout[i * out_ld + e]);
        for (int64_t c = 0; c < l.d; ++c) dk_row[c] += ds * M(hd.q[i * hd.q_ld + c]);
      }
  }
}

// D = rowsum(dO * O), dK, dV (one task per (b, kv head, key block)) and dQ (one per (b, h,
// query block)); a null gradient pointer is not computed.
template <typename T>
void flash_attention_backward(Cpu, const PackedAttentionLayout& l, const T* q, const T* k,
                              const T* v, AttentionMask<T> mask, const T* out,
                              const math_t<T>* stats, const T* grad_out, T* grad_q, T* grad_k,
                              T* grad_v) {
  using M = math_t<T>;
  const int64_t out_ld = l.heads * l.dv, rows = l.pairs() * l.nq;
  std::vector<M> delta(static_cast<size_t>(rows));
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < rows; ++t) {   // t = (b H + h) Nq + i
    const int64_t b = t / (l.heads * l.nq), h = t / l.nq % l.heads, i = t % l.nq;
    const int64_t at = l.out_offset(b, h) + i * out_ld;
    delta[size_t(t)] = flash::dot<M>(grad_out + at, out + at, l.dv);
  }
  const int64_t key_blocks = flash::blocks(l.nk, kFlashKeys);
  if (grad_k != nullptr || grad_v != nullptr) {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < l.batch * l.kv_heads * key_blocks; ++t) {
      const int64_t b = t / (l.kv_heads * key_blocks), kvh = t / key_blocks % l.kv_heads;
      const int64_t j0 = t % key_blocks * kFlashKeys, j1 = std::min(l.nk, j0 + kFlashKeys);
      std::vector<M> dk(size_t((j1 - j0) * l.d), 0), dv(size_t((j1 - j0) * l.dv), 0);
      flash_key_block_gradients(l, q, k, v, mask, grad_out, stats, delta.data(), b, kvh, j0, j1,
                                dk.data(), dv.data());
      const int64_t h = kvh * l.group();   // the group's first query head locates k and v's head
      for (int64_t j = j0; j < j1; ++j) {
        if (grad_k != nullptr)
          for (int64_t c = 0; c < l.d; ++c)
            grad_k[l.k_offset(b, h) + j * l.kv_heads * l.d + c] =
                T(dk[size_t((j - j0) * l.d + c)] * M(l.scale));
        if (grad_v != nullptr)
          for (int64_t e = 0; e < l.dv; ++e)
            grad_v[l.v_offset(b, h) + j * l.kv_heads * l.dv + e] =
                T(dv[size_t((j - j0) * l.dv + e)]);
      }
    }
  }
  if (grad_q == nullptr) return;
  const int64_t row_blocks = flash::blocks(l.nq, kFlashRows);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < l.pairs() * row_blocks; ++t) {
    const int64_t b = t / (l.heads * row_blocks), h = t / row_blocks % l.heads;
    const int64_t i0 = t % row_blocks * kFlashRows, i1 = std::min(l.nq, i0 + kFlashRows);
    const flash::Head<T> hd = flash::head_of(l, q, k, v, b, h);
    const int64_t row0 = (b * l.heads + h) * l.nq;
    std::vector<M> dq(size_t(l.d));
    for (int64_t i = i0; i < i1; ++i) {
      std::fill(dq.begin(), dq.end(), M(0));
      const T* dout = grad_out + l.out_offset(b, h) + i * out_ld;
      for (int64_t j = 0; j < flash::key_end(l, i1); ++j) {
        const M p = flash::probability(flash::score<M>(l, hd, mask, i, j), stats + 2 * (row0 + i));
        const M ds = p * (flash::dot<M>(dout, hd.v + j * hd.v_ld, l.dv) - delta[size_t(row0 + i)]);
        for (int64_t c = 0; c < l.d; ++c) dq[size_t(c)] += ds * M(hd.k[j * hd.k_ld + c]);
      }
      T* dq_row = grad_q + l.q_offset(b, h) + i * l.heads * l.d;
      for (int64_t c = 0; c < l.d; ++c) dq_row[c] = T(dq[size_t(c)] * M(l.scale));
    }
  }
}

}  // namespace neat::cpu
