// Differentiable neural-network functions with fused forward and backward kernels:
// softmax, log_softmax, layer_norm, cross_entropy, dropout, scaled dot-product attention.
#pragma once
#include "autograd/variable.h"

namespace neat {

Variable softmax(const Variable& x, int64_t dim);
Variable log_softmax(const Variable& x, int64_t dim);
// Over the last dim; weight / bias [D] may be undefined Variables.
Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps);
// logits [N, C], labels int64 [N]; mean over N.
Variable cross_entropy(const Variable& logits, const Tensor& labels, double label_smoothing = 0.0);
// Inverted dropout; identity when !training or p == 0.
Variable dropout(const Variable& x, double p, bool training, Generator& gen);
// softmax(Q K^T / sqrt(d) + mask) V.  q [.., Nq, d], k [.., Nk, d], v [.., Nk, dv];
// mask (optional, undefined = none) broadcastable to [.., Nq, Nk]: additive float mask
// (0 or -inf style), as torch's attn_mask for float masks.
Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      const Tensor& mask = Tensor());

}  // namespace neat
