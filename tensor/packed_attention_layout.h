// The sizes of multi-head attention on packed heads, shared by the raw op
// (tensor/packed_attention.cpp) and its kernels (tensor/cpu/packed_attention.h,
// tensor/cuda/packed_attention.cu).
//
// "Packed": the heads sit side by side in the last dim, as the q, k, v projections write them:
//   q [B, Nq, H*d], k [B, Nk, H*d], v [B, Nk, H*dv], out [B, Nq, H*dv]
// so head h of batch entry b is the [N, d] matrix at offset (b N H d + h d) with row stride H d.
// The probabilities are kept per head, contiguous: p [B, H, Nq, Nk].
#pragma once
#include <cstdint>

namespace neat {

struct PackedAttentionLayout {
  int64_t batch = 0, heads = 0, nq = 0, nk = 0, d = 0, dv = 0;
  double scale = 1;   // 1 / sqrt(d)

  int64_t pairs() const { return batch * heads; }   // (b, h) products, p's [Nq, Nk] blocks
  // Offsets of (b, h)'s first element in q, k (and their gradients), v, out and p.
  int64_t q_offset(int64_t b, int64_t h) const { return (b * nq * heads + h) * d; }
  int64_t k_offset(int64_t b, int64_t h) const { return (b * nk * heads + h) * d; }
  int64_t v_offset(int64_t b, int64_t h) const { return (b * nk * heads + h) * dv; }
  int64_t out_offset(int64_t b, int64_t h) const { return (b * nq * heads + h) * dv; }
  int64_t p_offset(int64_t b, int64_t h) const { return (b * heads + h) * nq * nk; }
};

// An additive mask broadcast to [B, H, Nq, Nk]: element (b, h, i, j) is
// data[b sb + h sh + i si + j sj], a stride 0 where the mask's dim is 1 (or missing).
// data == nullptr: no mask.
template <typename T>
struct AttentionMask {
  const T* data = nullptr;
  int64_t sb = 0, sh = 0, si = 0, sj = 0;
};

}  // namespace neat
