// Multi-head scaled dot-product attention on packed heads (tensor/packed_attention_layout.h):
// q [B, Nq, H*d], k [B, Nk, Hkv*d], v [B, Nk, Hkv*dv] are read where the projections wrote them
// and the output is written as [B, Nq, H*dv], so no head is ever permuted to [B, H, N, d] and
// back. Per query head h of batch entry b (Q, K, V the [N, d] slices of query head h and of its
// key / value head h / (H / Hkv): grouped-query attention when kv_heads < heads):
//   S = Q K^T / sqrt(d) + mask + causal      P = softmax(S) over Nk      O = P V
// mask (undefined: none) broadcasts to [B, H, Nq, Nk], additive (0 / -inf style) as torch's
// float attn_mask. causal adds -inf where key j > i + Nk - Nq (no [Nq, Nk] mask is made; it
// needs Nq <= Nk, so that every query sees a key). The backward, from the saved P:
//   dV = P^T dO      dP = dO V^T      dS = P * (dP - rowsum(dP * P))      (softmax backward)
//   dQ = dS K / sqrt(d)      dK = dS^T Q / sqrt(d)
// where a key / value head's dK and dV add up the terms of the G query heads that read it.
#pragma once
#include "tensor/tensor.h"

namespace neat {

struct PackedAttentionForward {
  Tensor out;     // [B, Nq, H*dv]
  Tensor probs;   // P [B, H, Nq, Nk], what the backward reads
};
// kv_heads 0 means heads.
PackedAttentionForward packed_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                int64_t heads, const Tensor& mask,
                                                bool causal = false, int64_t kv_heads = 0);

struct PackedAttentionGradients {
  Tensor q, k, v;   // undefined where not asked for
};
PackedAttentionGradients packed_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                   const Tensor& k, const Tensor& v,
                                                   const Tensor& probs, int64_t heads,
                                                   bool need_q, bool need_k, bool need_v,
                                                   int64_t kv_heads = 0);

}  // namespace neat
