// Multi-head scaled dot-product attention on packed heads (tensor/packed_attention_layout.h):
// q [B, Nq, H*d], k [B, Nk, H*d], v [B, Nk, H*dv] are read where the projections wrote them and
// the output is written as [B, Nq, H*dv], so no head is ever permuted to [B, H, N, d] and back.
// Per head h of batch entry b (Q, K, V the head's [N, d] slices):
//   S = Q K^T / sqrt(d) + mask      P = softmax(S) over Nk      O = P V
// mask (undefined: none) broadcasts to [B, H, Nq, Nk], additive (0 / -inf style) as torch's
// float attn_mask. The backward, from the saved P:
//   dV = P^T dO      dP = dO V^T      dS = P * (dP - rowsum(dP * P))      (softmax backward)
//   dQ = dS K / sqrt(d)      dK = dS^T Q / sqrt(d)
#pragma once
#include "tensor/tensor.h"

namespace neat {

struct PackedAttentionForward {
  Tensor out;     // [B, Nq, H*dv]
  Tensor probs;   // P [B, H, Nq, Nk], what the backward reads
};
PackedAttentionForward packed_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                int64_t heads, const Tensor& mask);

struct PackedAttentionGradients {
  Tensor q, k, v;   // undefined where not asked for
};
PackedAttentionGradients packed_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                   const Tensor& k, const Tensor& v,
                                                   const Tensor& probs, int64_t heads,
                                                   bool need_q, bool need_k, bool need_v);

}  // namespace neat
