// Multi-head attention on packed heads: checks and allocation here (the sizes and the mask's
// broadcast strides: tensor/packed_attention_checks.h), the kernels in
// tensor/cpu/packed_attention.h and tensor/cuda/packed_attention.cu. bfloat16 q, k, v (and
// mask) give bfloat16 out and P, the scores and softmax in float32.
#include "tensor/packed_attention.h"

#include <cmath>

#include "tensor/cpu/packed_attention.h"
#include "tensor/cuda/packed_attention.h"
#include "tensor/dispatch.h"
#include "tensor/packed_attention_checks.h"

namespace neat {

PackedAttentionForward packed_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                int64_t heads, const Tensor& mask, bool causal,
                                                int64_t kv_heads) {
  const char* op = "packed_attention";
  PackedAttentionLayout l = packed_attention_layout(q, k, v, heads, kv_heads, op);
  set_causal(l, causal, op);
  if (mask.defined()) check_same_dtype(q, mask, op);
  PackedAttentionForward f;
  f.out = Tensor({l.batch, l.nq, l.heads * l.dv}, q.dtype(), q.device());
  f.probs = Tensor({l.batch, l.heads, l.nq, l.nk}, q.dtype(), q.device());
  dispatch_with_bf16({q, k, v, mask}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    packed_attention_forward(dev, l, q.data<T>(), k.data<T>(), v.data<T>(),
                             attention_mask<T>(mask, l, op), f.probs.data<T>(), f.out.data<T>());
  });
  return f;
}

PackedAttentionGradients packed_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                   const Tensor& k, const Tensor& v,
                                                   const Tensor& probs, int64_t heads,
                                                   bool need_q, bool need_k, bool need_v,
                                                   int64_t kv_heads) {
  const char* op = "packed_attention_backward";
  const PackedAttentionLayout l = packed_attention_layout(q, k, v, heads, kv_heads, op);
  const Shape out_shape = {l.batch, l.nq, l.heads * l.dv}, p_shape = {l.batch, l.heads, l.nq, l.nk};
  NEAT_CHECK(grad_out.shape() == out_shape, op, ": gradient ", shape_str(grad_out.shape()),
             " is not the output's ", shape_str(out_shape));
  NEAT_CHECK(probs.shape() == p_shape, op, ": probabilities ", shape_str(probs.shape()),
             " are not ", shape_str(p_shape));
  check_same_dtype(q, grad_out, op);
  check_same_dtype(q, probs, op);
  PackedAttentionGradients g;
  if (need_q) g.q = Tensor(q.shape(), q.dtype(), q.device());
  if (need_k) g.k = Tensor(k.shape(), k.dtype(), k.device());
  if (need_v) g.v = Tensor(v.shape(), v.dtype(), v.device());
  if (!need_q && !need_k && !need_v) return g;
  dispatch_with_bf16({q, k, v, probs, grad_out}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    auto out = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
    packed_attention_backward(dev, l, q.data<T>(), k.data<T>(), v.data<T>(), probs.data<T>(),
                              grad_out.data<T>(), out(g.q), out(g.k), out(g.v));
  });
  return g;
}

}  // namespace neat
