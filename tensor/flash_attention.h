// Flash attention (FlashAttention-2, Dao 2023): the multi-head attention of
// tensor/packed_attention.h, on the same packed heads and with the same masks, in tiles that never
// store the [Nq, Nk] matrix. The unfused math it computes, per query head h of batch entry b:
//   S = Q K^T / sqrt(d) + mask (+ causal)      P = softmax(S) over Nk      O = P V
// Forward: a block of Br query rows walks the keys Bc at a time, keeping per row the running max
// m, the running sum l of e^(S - m) and the unnormalised O (rescaled by e^(m_old - m_new) when m
// grows); at the end O /= l, and per row m and 1 / l are saved, stats [B, H, Nq, 2] (float32;
// float64 for float64 inputs). (FlashAttention-2 saves the one number L = m + log l, P =
// e^(S - L); but where every key of a row is masked by a huge finite value, as key_padding_mask's
// lowest(), m is about -3.4e38 and log l rounds away, so e^(S - L) would give 1 for the uniform
// 1 / Nk: P = e^(S - m) / l keeps it exact.) float32, float64 and bfloat16 inputs (bf16 read and
// written, the math in float32). Backward recomputes P = e^(S - m) / l tile by tile:
//   D = rowsum(dO * O)      dV = P^T dO      dP = dO V^T      dS = P * (dP - D)
//   dQ = dS K / sqrt(d)      dK = dS^T Q / sqrt(d)
// (D = rowsum(dP * P), since rowsum(dP * P) = rowsum(dO * (P V)) = rowsum(dO * O)). dK and dV
// are summed by one task per key block over the G query heads of their key / value head and all
// query blocks, dQ by one task per query block over the key blocks: no two tasks write one
// element, so the results are the same bits on every run. A row whose keys are all masked with
// -inf (l = 0) gets O = 0, stats (+inf, 0) (so P = 0 in the backward) and zero gradients, never
// NaN.
//
//   FlashAttentionForward f = flash_attention_forward(q, k, v, heads, mask, causal, kv_heads);
//   PackedAttentionGradients g = flash_attention_backward(dout, q, k, v, f.out, f.stats, heads,
//                                                         mask, causal, true, true, true, kv_heads);
//
// Kernels: tensor/cpu/flash_attention.h (a reference of the same tiling in plain loops, float64
// for gradchecks) and tensor/cuda/flash_attention.cu. flash_attention_preferred says, per device,
// whether packed attention should take this path (CUDA float32 / bfloat16) or store P (the CPU, where
// tensor/cpu/packed_attention.h's GEMMs are faster).
#pragma once
#include "tensor/packed_attention.h"
#include "tensor/tensor.h"

namespace neat {

struct FlashAttentionForward {
  Tensor out;   // [B, Nq, H*dv]
  Tensor stats;   // [B, H, Nq, 2]: per row the max m of S and 1 / l, l = sum_j e^(S_j - m)
};
// kv_heads 0 means heads; mask (undefined: none) additive, broadcast to [B, H, Nq, Nk].
FlashAttentionForward flash_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                              int64_t heads, const Tensor& mask,
                                              bool causal = false, int64_t kv_heads = 0);

// out and stats: the forward's. The mask and causal must be the forward's too.
PackedAttentionGradients flash_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                  const Tensor& k, const Tensor& v,
                                                  const Tensor& out, const Tensor& stats,
                                                  int64_t heads, const Tensor& mask, bool causal,
                                                  bool need_q, bool need_k, bool need_v,
                                                  int64_t kv_heads = 0);

// Whether packed attention of q [B, Nq, heads*d] and v [B, Nk, kv_heads*dv] runs as flash
// attention: on CUDA for float32 and bfloat16 with d, dv <= 128, unless the environment sets
// NEAT_FLASH_ATTENTION=0 (the stored-P path, for comparisons); never on the CPU. False for shapes
// that do not split into the heads (packed attention's checks then name them).
bool flash_attention_preferred(const Tensor& q, const Tensor& v, int64_t heads,
                               int64_t kv_heads = 0);

}  // namespace neat
