// Multi-head attention on packed heads: checks, allocation and the mask's broadcast strides
// here, the kernels in tensor/cpu/packed_attention.h and tensor/cuda/packed_attention.cu.
#include "tensor/packed_attention.h"

#include <cmath>

#include "tensor/cpu/packed_attention.h"
#include "tensor/cuda/packed_attention.h"
#include "tensor/dispatch.h"

namespace neat {

namespace {

PackedAttentionLayout layout_of(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                                int64_t kv_heads, const char* op) {
  NEAT_CHECK(q.defined() && k.defined() && v.defined(), op, ": q, k and v must be defined");
  NEAT_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, op, ": q ", shape_str(q.shape()), ", k ",
             shape_str(k.shape()), ", v ", shape_str(v.shape()), " must be [B, N, heads * d]");
  NEAT_CHECK(heads > 0, op, ": heads must be positive, got ", heads);
  if (kv_heads == 0) kv_heads = heads;
  NEAT_CHECK(kv_heads > 0 && heads % kv_heads == 0, op, ": ", heads, " query heads do not split "
             "into groups of the ", kv_heads, " key / value heads");
  NEAT_CHECK(q.size(0) == k.size(0) && k.size(0) == v.size(0), op, ": q ", shape_str(q.shape()),
             ", k ", shape_str(k.shape()), ", v ", shape_str(v.shape()), " differ in the batch B");
  NEAT_CHECK(k.size(1) == v.size(1), op, ": k ", shape_str(k.shape()), " and v ",
             shape_str(v.shape()), " differ in the number of keys Nk");
  NEAT_CHECK(q.size(2) % heads == 0 && v.size(2) % kv_heads == 0, op, ": q ",
             shape_str(q.shape()), " and v ", shape_str(v.shape()), " do not split into ", heads,
             kv_heads == heads ? "" : " query and " + std::to_string(kv_heads) + " key / value",
             " heads");
  NEAT_CHECK(k.size(2) * heads == q.size(2) * kv_heads, op, ": q ", shape_str(q.shape()), " and k ",
             shape_str(k.shape()), " differ in the head size d (", heads, " query heads, ",
             kv_heads, " key / value heads)");
  check_same_dtype(q, k, op);
  check_same_dtype(q, v, op);
  PackedAttentionLayout l;
  l.batch = q.size(0);
  l.heads = heads;
  l.kv_heads = kv_heads;
  l.nq = q.size(1);
  l.nk = k.size(1);
  l.d = q.size(2) / heads;
  l.dv = v.size(2) / kv_heads;
  l.scale = 1.0 / std::sqrt(double(l.d));
  return l;
}

// The mask's strides broadcast to [B, H, Nq, Nk] (right-aligned, a dim of 1 repeats).
template <typename T>
AttentionMask<T> mask_of(const Tensor& mask, const PackedAttentionLayout& l, const char* op) {
  AttentionMask<T> m;
  if (!mask.defined()) return m;
  const Shape full = {l.batch, l.heads, l.nq, l.nk};
  NEAT_CHECK(mask.dim() <= 4, op, ": mask ", shape_str(mask.shape()), " has more than 4 dims");
  int64_t strides[4] = {0, 0, 0, 0};
  int64_t stride = 1;
  for (int64_t i = 0; i < mask.dim(); ++i) {
    const int64_t d = mask.dim() - 1 - i, f = 3 - i;   // the mask's dim d meets full's dim f
    NEAT_CHECK(mask.size(d) == full[size_t(f)] || mask.size(d) == 1, op, ": mask ",
               shape_str(mask.shape()), " does not broadcast to the scores ", shape_str(full));
    strides[f] = mask.size(d) == 1 ? 0 : stride;
    stride *= mask.size(d);
  }
  m.data = mask.data<T>();
  m.sb = strides[0];
  m.sh = strides[1];
  m.si = strides[2];
  m.sj = strides[3];
  return m;
}

}  // namespace

PackedAttentionForward packed_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                int64_t heads, const Tensor& mask, bool causal,
                                                int64_t kv_heads) {
  const char* op = "packed_attention";
  PackedAttentionLayout l = layout_of(q, k, v, heads, kv_heads, op);
  l.causal = causal;
  NEAT_CHECK(!causal || l.nq <= l.nk, op, ": causal attention with ", l.nq, " queries but ", l.nk,
             " keys: the queries are the last Nq positions, so Nq <= Nk");
  if (mask.defined()) check_same_dtype(q, mask, op);
  PackedAttentionForward f;
  f.out = Tensor({l.batch, l.nq, l.heads * l.dv}, q.dtype(), q.device());
  f.probs = Tensor({l.batch, l.heads, l.nq, l.nk}, q.dtype(), q.device());
  dispatch({q, k, v, mask}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    packed_attention_forward(dev, l, q.data<T>(), k.data<T>(), v.data<T>(), mask_of<T>(mask, l, op),
                             f.probs.data<T>(), f.out.data<T>());
  });
  return f;
}

PackedAttentionGradients packed_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                   const Tensor& k, const Tensor& v,
                                                   const Tensor& probs, int64_t heads,
                                                   bool need_q, bool need_k, bool need_v,
                                                   int64_t kv_heads) {
  const char* op = "packed_attention_backward";
  const PackedAttentionLayout l = layout_of(q, k, v, heads, kv_heads, op);
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
  dispatch({q, k, v, probs, grad_out}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    auto out = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
    packed_attention_backward(dev, l, q.data<T>(), k.data<T>(), v.data<T>(), probs.data<T>(),
                              grad_out.data<T>(), out(g.q), out(g.k), out(g.v));
  });
  return g;
}

}  // namespace neat
