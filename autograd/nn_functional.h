// Differentiable neural-network functions with fused forward and backward kernels:
// softmax, log_softmax, layer_norm (and add_layer_norm), rms_norm, cross_entropy, mse_loss, dropout, embedding,
// scaled dot-product attention (on [.., N, d] heads, and on heads packed side by side, causal
// and grouped-query included), and the rotary position embedding.
#pragma once
#include "autograd/variable.h"

namespace neat {

Variable softmax(const Variable& x, int64_t dim);
Variable log_softmax(const Variable& x, int64_t dim);
// Over the last dim; weight / bias [D] may be undefined Variables.
Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps);
// The residual add fused into the layer norm: sum = x + residual (the next residual add needs
// it), y = layer_norm(sum, weight, bias, eps); x and residual of the same shape. One forward
// pass per row; the same values and gradients as add then layer_norm (autograd/layer_norm.cpp).
struct AddLayerNorm {
  Variable sum, y;
};
AddLayerNorm add_layer_norm(const Variable& x, const Variable& residual, const Variable& weight,
                            const Variable& bias, double eps);
// y = x / sqrt(mean(x^2) + eps) * weight over the last dim; weight [D] (tensor/rms_norm.h).
Variable rms_norm(const Variable& x, const Variable& weight, double eps);
// The rotary position embedding on packed heads (tensor/rope.h): x [B, N, heads*hd],
// position_ids int64 [B, N], inv_freq [hd/2] in x's dtype. Differentiable in x.
Variable rope(const Variable& x, const Tensor& position_ids, const Tensor& inv_freq,
              int64_t heads);
// logits [N, C], labels int64 [N]; mean over N.
Variable cross_entropy(const Variable& logits, const Tensor& labels, double label_smoothing = 0.0);
// Mean of (input - target)^2 over every element, as torch.nn.functional.mse_loss; target has
// input's shape and dtype (no broadcasting) and gets no gradient. A bfloat16 input gives a
// float32 loss (computed in float32) and a bfloat16 gradient.
Variable mse_loss(const Variable& input, const Tensor& target);
// Rows of weight [V, D] at int64 ids [..] -> [.., D], as torch.nn.functional.embedding: the
// gradient of the row padding_idx (-1: none) is exactly 0, however often it is looked up.
Variable embedding(const Variable& weight, const Tensor& ids, int64_t padding_idx = -1);
// Inverted dropout; identity when !training or p == 0.
Variable dropout(const Variable& x, double p, bool training, Generator& gen);
// softmax(Q K^T / sqrt(d) + mask) V.  q [.., Nq, d], k [.., Nk, d], v [.., Nk, dv];
// mask (optional, undefined = none) broadcastable to [.., Nq, Nk]: additive float mask
// (0 or -inf style), as torch's attn_mask for float masks.
Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      const Tensor& mask = Tensor());
// The same per head on packed heads, as the projections write them (tensor/packed_attention.h):
// q [B, Nq, heads*d], k [B, Nk, heads*d], v [B, Nk, heads*dv] -> [B, Nq, heads*dv], mask
// broadcastable to [B, heads, Nq, Nk]. What multi_head_attention runs: no head is permuted.
// causal: query i sees keys j <= i + Nk - Nq only (a decoder; with a KV cache the Nq new queries
// are the last ones). kv_heads (0: = heads) < heads is grouped-query attention: k [B, Nk,
// kv_heads*d], v [B, Nk, kv_heads*dv], query head h reads key / value head h / (heads / kv_heads).
// On CUDA in float32 (tensor/flash_attention.h's flash_attention_preferred) it runs as
// flash_multi_head_attention; elsewhere it stores P, which the CPU's GEMMs compute fastest.
Variable packed_multi_head_attention(const Variable& q, const Variable& k, const Variable& v,
                                     int64_t heads, const Tensor& mask = Tensor(),
                                     bool causal = false, int64_t kv_heads = 0);
// The same in flash attention's tiles on any device (tensor/flash_attention.h): saves each row's
// max and softmax sum [B, heads, Nq, 2] instead of P [B, heads, Nq, Nk] and recomputes P in the
// backward.
// A query row whose keys are all masked with -inf gives 0 (and zero gradients), not NaN.
Variable flash_multi_head_attention(const Variable& q, const Variable& k, const Variable& v,
                                    int64_t heads, const Tensor& mask = Tensor(),
                                    bool causal = false, int64_t kv_heads = 0);

}  // namespace neat
