// Flash attention on packed heads: checks and allocation here (the sizes and the mask's strides
// shared with packed attention: tensor/packed_attention_checks.h), the kernels in
// tensor/cpu/flash_attention.h and tensor/cuda/flash_attention.cu.
#include "tensor/flash_attention.h"

#include <cstdlib>
#include <cstring>

#include "tensor/cpu/flash_attention.h"
#include "tensor/cuda/flash_attention.h"
#include "tensor/dispatch.h"
#include "tensor/packed_attention_checks.h"

namespace neat {

FlashAttentionForward flash_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                              int64_t heads, const Tensor& mask, bool causal,
                                              int64_t kv_heads) {
  const char* op = "flash_attention";
  PackedAttentionLayout l = packed_attention_layout(q, k, v, heads, kv_heads, op);
  set_causal(l, causal, op);
  if (mask.defined()) check_same_dtype(q, mask, op);
  FlashAttentionForward f;
  f.out = Tensor({l.batch, l.nq, l.heads * l.dv}, q.dtype(), q.device());
  f.stats = Tensor({l.batch, l.heads, l.nq, 2}, math_dtype(q.dtype()), q.device());
  dispatch_with_bf16({q, k, v, mask}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    flash_attention_forward(dev, l, q.data<T>(), k.data<T>(), v.data<T>(),
                            attention_mask<T>(mask, l, op), f.out.data<T>(),
                            f.stats.data<math_t<T>>());
  });
  return f;
}

PackedAttentionGradients flash_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                  const Tensor& k, const Tensor& v,
                                                  const Tensor& out, const Tensor& stats,
                                                  int64_t heads, const Tensor& mask, bool causal,
                                                  bool need_q, bool need_k, bool need_v,
                                                  int64_t kv_heads) {
  const char* op = "flash_attention_backward";
  PackedAttentionLayout l = packed_attention_layout(q, k, v, heads, kv_heads, op);
  set_causal(l, causal, op);
  const Shape out_shape = {l.batch, l.nq, l.heads * l.dv},
              stats_shape = {l.batch, l.heads, l.nq, 2};
  NEAT_CHECK(grad_out.shape() == out_shape && out.shape() == out_shape, op, ": gradient ",
             shape_str(grad_out.shape()), " and output ", shape_str(out.shape()), " are not ",
             shape_str(out_shape));
  NEAT_CHECK(stats.shape() == stats_shape && stats.dtype() == math_dtype(q.dtype()), op,
             ": row statistics ", dtype_name(stats.dtype()), " ", shape_str(stats.shape()),
             " are not ", dtype_name(math_dtype(q.dtype())), " ", shape_str(stats_shape));
  check_same_dtype(q, grad_out, op);
  check_same_dtype(q, out, op);
  if (mask.defined()) check_same_dtype(q, mask, op);
  PackedAttentionGradients g;
  if (need_q) g.q = Tensor(q.shape(), q.dtype(), q.device());
  if (need_k) g.k = Tensor(k.shape(), k.dtype(), k.device());
  if (need_v) g.v = Tensor(v.shape(), v.dtype(), v.device());
  if (!need_q && !need_k && !need_v) return g;
  dispatch_with_bf16({q, k, v, grad_out, out, stats, mask}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    auto grad = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
    flash_attention_backward(dev, l, q.data<T>(), k.data<T>(), v.data<T>(),
                             attention_mask<T>(mask, l, op), out.data<T>(),
                             stats.data<math_t<T>>(), grad_out.data<T>(), grad(g.q), grad(g.k),
                             grad(g.v));
  });
  return g;
}

bool flash_attention_preferred(const Tensor& q, const Tensor& v, int64_t heads,
                               int64_t kv_heads) {
  static const bool enabled = [] {
    const char* env = std::getenv("NEAT_FLASH_ATTENTION");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }();
  if (kv_heads == 0) kv_heads = heads;
  if (!enabled || !q.defined() || !v.defined() || q.dim() != 3 || v.dim() != 3 || heads <= 0 ||
      kv_heads <= 0 || q.size(2) % heads != 0 || v.size(2) % kv_heads != 0)
    return false;
  bool preferred = false;
  dispatch_device(q.device(), "flash_attention", [&](auto dev) {
    preferred = flash_attention_preferred(dev, q.dtype(), q.size(2) / heads, v.size(2) / kv_heads);
  });
  return preferred;
}

}  // namespace neat
