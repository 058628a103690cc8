// The checks and sizes shared by the raw ops of attention on packed heads
// (tensor/packed_attention.cpp, which stores P, and tensor/flash_attention.cpp, which does not):
// the layout of q, k, v (tensor/packed_attention_layout.h), with errors naming both shapes, and an
// additive mask's strides broadcast to the scores [B, H, Nq, Nk].
#pragma once
#include <cmath>
#include <string>

#include "tensor/packed_attention_layout.h"
#include "tensor/tensor.h"

namespace neat {

// The sizes of q [B, Nq, H*d], k [B, Nk, Hkv*d], v [B, Nk, Hkv*dv]; kv_heads 0 means heads.
inline PackedAttentionLayout packed_attention_layout(const Tensor& q, const Tensor& k,
                                                     const Tensor& v, int64_t heads,
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

// Causal attention takes the queries as the last Nq of the Nk positions: it needs Nq <= Nk.
inline void set_causal(PackedAttentionLayout& l, bool causal, const char* op) {
  NEAT_CHECK(!causal || l.nq <= l.nk, op, ": causal attention with ", l.nq, " queries but ", l.nk,
             " keys: the queries are the last Nq positions, so Nq <= Nk");
  l.causal = causal;
}

// The mask's strides broadcast to [B, H, Nq, Nk] (right-aligned, a dim of 1 repeats).
template <typename T>
AttentionMask<T> attention_mask(const Tensor& mask, const PackedAttentionLayout& l,
                                const char* op) {
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

}  // namespace neat
