// The sizes of multi-head attention on packed heads, shared by the raw op
// (tensor/packed_attention.cpp) and its kernels (tensor/cpu/packed_attention.h,
// tensor/cuda/packed_attention.cu).
//
// "Packed": the heads sit side by side in the last dim, as the q, k, v projections write them:
//   q [B, Nq, H*d], k [B, Nk, Hkv*d], v [B, Nk, Hkv*dv], out [B, Nq, H*dv]
// so head h of batch entry b is the [N, d] matrix at offset (b N H d + h d) with row stride H d.
// Grouped-query attention (Hkv < H, H % Hkv == 0): query head h reads key / value head
// h / G, G = H / Hkv (a group of G consecutive query heads shares one); Hkv = H is plain
// multi-head attention. The probabilities are kept per query head, contiguous: p [B, H, Nq, Nk].
// causal: query i sees keys j <= i + Nk - Nq (the queries are the last Nq of the Nk positions,
// as in a decode step after a KV cache); the others get probability 0.
#pragma once
#include <cstdint>

#include "tensor/host_device.h"

namespace neat {

struct PackedAttentionLayout {
  int64_t batch = 0, heads = 0, kv_heads = 0, nq = 0, nk = 0, d = 0, dv = 0;
  double scale = 1;   // 1 / sqrt(d)
  bool causal = false;

  int64_t pairs() const { return batch * heads; }   // (b, h) products, p's [Nq, Nk] blocks
  int64_t group() const { return heads / kv_heads; }   // query heads per key / value head
  // The last key query i may see when causal: i + Nk - Nq.
  NEAT_HOST_DEVICE int64_t last_key(int64_t i) const { return i + nk - nq; }
  // Offsets of (b, h)'s first element in q, k (and their gradients), v, out and p; h is a query
  // head, k and v read its key / value head h / G.
  int64_t q_offset(int64_t b, int64_t h) const { return (b * nq * heads + h) * d; }
  int64_t k_offset(int64_t b, int64_t h) const { return (b * nk * kv_heads + h / group()) * d; }
  int64_t v_offset(int64_t b, int64_t h) const { return (b * nk * kv_heads + h / group()) * dv; }
  int64_t out_offset(int64_t b, int64_t h) const { return (b * nq * heads + h) * dv; }
  int64_t p_offset(int64_t b, int64_t h) const { return (b * heads + h) * nq * nk; }
};

// Flash attention's tiles (tensor/flash_attention.h), the same on both devices: a block of
// kFlashRows query rows meets the keys kFlashKeys at a time (the CUDA kernels' warp width).
constexpr int kFlashRows = 32, kFlashKeys = 32;

// An additive mask broadcast to [B, H, Nq, Nk]: element (b, h, i, j) is
// data[b sb + h sh + i si + j sj], a stride 0 where the mask's dim is 1 (or missing).
// data == nullptr: no mask.
template <typename T>
struct AttentionMask {
  const T* data = nullptr;
  int64_t sb = 0, sh = 0, si = 0, sj = 0;
};

}  // namespace neat
