// CUDA kernels of multi-head attention on packed heads (tensor/cuda/packed_attention.h), the
// math of tensor/cpu/packed_attention.h. On the GPU a copy is cheap next to a launch, so the
// heads are gathered to [B, H, N, d] scratch (one permute kernel each; K and V to [B, Hkv, N, d]),
// every product of all (b, h) pairs is a strided-batched cuBLAS call (G of them with grouped-query
// attention, one per member of a group), the mask and the causal -inf are added by one kernel,
// the softmax is tensor/cuda/softmax.cu's row kernel in place, and the results are scattered
// back to the packed [B, N, H*d] layout.
#include <math_constants.h>

#include <memory>

#include "tensor/cuda/gemm.cuh"
#include "tensor/cuda/packed_attention.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/cuda/shape_ops.h"
#include "tensor/cuda/softmax.h"
#include "tensor/cuda/tensor.h"
#include "tensor/half.h"

namespace neat::cuda {

namespace {

// heads [B, H, N, w] <- packed [B, N, H*w]
template <typename T>
void split_heads(const T* packed, T* heads, int64_t batch, int64_t n, int64_t h, int64_t w) {
  const int64_t shape[4] = {batch, h, n, w};
  const int64_t stride[4] = {n * h * w, w, h * w, 1};
  permute_kernel(Cuda{}, heads, packed, 4, shape, stride);
}

// packed [B, N, H*w] <- heads [B, H, N, w]
template <typename T>
void merge_heads(const T* heads, T* packed, int64_t batch, int64_t n, int64_t h, int64_t w) {
  const int64_t shape[4] = {batch, n, h, w};
  const int64_t stride[4] = {h * n * w, w, n * w, 1};
  permute_kernel(Cuda{}, packed, heads, 4, shape, stride);
}

// p[b, h, i, j] += mask(b, h, i, j), the mask read through its broadcast strides (when there is
// one), and -inf where causal hides key j from query i (j > i + Nk - Nq).
template <typename T>
__global__ void mask_scores_kernel(T* p, AttentionMask<T> mask, PackedAttentionLayout l,
                                   int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % l.nk, i = (e / l.nk) % l.nq, h = (e / (l.nk * l.nq)) % l.heads,
                  b = e / (l.nk * l.nq * l.heads);
    if (l.causal && j > l.last_key(i)) p[e] = -CUDART_INF;
    else if (mask.data != nullptr) p[e] += mask.data[b * mask.sb + h * mask.sh + i * mask.si + j * mask.sj];
  }
}

// The strides of one group member's products. Query head h = c G + g of pair c = b Hkv + kvh
// (kvh its key / value head) sits at c G + g in [B, H, ..] scratch: so for a fixed g the G-th
// blocks from block g form a strided batch over the B Hkv pairs, and each product of all pairs
// is G cuBLAS calls (one when Hkv = H) that read K and V once per query head, never copied G times.
struct Groups {
  int64_t count, size;   // B Hkv pairs, G query heads each
};

// bfloat16 attention (the two overloads at the end), correct first: its operands are widened
// into float32 scratch, the float32 path runs (cuBLAS float32 GEMMs, the float32 softmax), and
// P and the results are rounded to bf16 once (out from the float32 P, before P's rounding; the
// CPU multiplies the rounded P). Training takes flash attention for bf16 heads of up to 128
// (tensor/flash_attention.h); this path serves the rest.
struct Widened {
  Scratch<float> data;
  Widened(const bfloat16* src, int64_t n) : data(n) { copy_convert(Cuda{}, data.data(), src, n); }
};

// The elements of q, k (d wide) or v, out (dv wide) and p, as the layout sizes them.
struct Extents {
  int64_t q, k, v, out, p;
  explicit Extents(const PackedAttentionLayout& l)
      : q(l.batch * l.nq * l.heads * l.d), k(l.batch * l.nk * l.kv_heads * l.d),
        v(l.batch * l.nk * l.kv_heads * l.dv), out(l.batch * l.nq * l.heads * l.dv),
        p(l.pairs() * l.nq * l.nk) {}
};

// The elements a broadcast mask spans: its last element's offset + 1 (a stride 0 repeats).
inline int64_t mask_extent(const AttentionMask<bfloat16>& m, const PackedAttentionLayout& l) {
  return (l.batch - 1) * m.sb + (l.heads - 1) * m.sh + (l.nq - 1) * m.si + (l.nk - 1) * m.sj + 1;
}

}  // namespace

template <typename T>
void packed_attention_forward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                              const T* v, AttentionMask<T> mask, T* p, T* out) {
  const int64_t B = l.batch, H = l.heads, Hkv = l.kv_heads, pairs = l.pairs();
  const Groups g{B * Hkv, l.group()};
  if (pairs == 0 || l.nq == 0) return;
  Scratch<T> qh(pairs * l.nq * l.d), kh(g.count * l.nk * l.d), vh(g.count * l.nk * l.dv),
      oh(pairs * l.nq * l.dv);
  split_heads(q, qh.data(), B, l.nq, H, l.d);
  split_heads(k, kh.data(), B, l.nk, Hkv, l.d);
  split_heads(v, vh.data(), B, l.nk, Hkv, l.dv);
  const int64_t qs = l.nq * l.d, ps = l.nq * l.nk, os = l.nq * l.dv;
  for (int64_t m = 0; m < g.size; ++m)   // S = Q K^T scale
    gemm_batched_rows<T>(false, true, l.nq, l.nk, l.d, T(l.scale), qh.data() + m * qs, l.d,
                         g.size * qs, kh.data(), l.d, l.nk * l.d, T(0), p + m * ps, l.nk,
                         g.size * ps, g.count);
  const int64_t n = pairs * l.nq * l.nk;
  if ((mask.data != nullptr || l.causal) && n > 0) {
    mask_scores_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(p, mask, l, n);
    NEAT_CUDA_CHECK(cudaGetLastError());
  }
  softmax_forward(Cuda{}, p, p, pairs * l.nq, l.nk, 1, false);
  for (int64_t m = 0; m < g.size; ++m)   // O = P V
    gemm_batched_rows<T>(false, false, l.nq, l.dv, l.nk, T(1), p + m * ps, l.nk, g.size * ps,
                         vh.data(), l.dv, l.nk * l.dv, T(0), oh.data() + m * os, l.dv,
                         g.size * os, g.count);
  merge_heads(oh.data(), out, B, l.nq, H, l.dv);
}

template <typename T>
void packed_attention_backward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                               const T* v, const T* p, const T* grad_out, T* grad_q, T* grad_k,
                               T* grad_v) {
  const int64_t B = l.batch, H = l.heads, Hkv = l.kv_heads, pairs = l.pairs();
  const Groups g{B * Hkv, l.group()};
  if (pairs == 0) return;
  const int64_t qs = l.nq * l.d, ps = l.nq * l.nk, os = l.nq * l.dv;
  Scratch<T> doh(pairs * l.nq * l.dv);
  split_heads(grad_out, doh.data(), B, l.nq, H, l.dv);
  if (grad_v != nullptr) {   // dV = sum over the group of P^T dO
    Scratch<T> dvh(g.count * l.nk * l.dv);
    for (int64_t m = 0; m < g.size; ++m)
      gemm_batched_rows<T>(true, false, l.nk, l.dv, l.nq, T(1), p + m * ps, l.nk, g.size * ps,
                           doh.data() + m * os, l.dv, g.size * os, T(m == 0 ? 0 : 1), dvh.data(),
                           l.dv, l.nk * l.dv, g.count);
    merge_heads(dvh.data(), grad_v, B, l.nk, Hkv, l.dv);
  }
  if (grad_q == nullptr && grad_k == nullptr) return;
  Scratch<T> vh(g.count * l.nk * l.dv), ds(pairs * l.nq * l.nk);
  split_heads(v, vh.data(), B, l.nk, Hkv, l.dv);
  // dP = dO V^T, then dS = P * (dP - rowsum(dP * P)) in place
  for (int64_t m = 0; m < g.size; ++m)
    gemm_batched_rows<T>(false, true, l.nq, l.nk, l.dv, T(1), doh.data() + m * os, l.dv,
                         g.size * os, vh.data(), l.dv, l.nk * l.dv, T(0), ds.data() + m * ps,
                         l.nk, g.size * ps, g.count);
  softmax_backward(Cuda{}, ds.data(), p, ds.data(), pairs * l.nq, l.nk, 1, false);
  if (grad_q != nullptr) {   // dQ = dS K scale
    Scratch<T> kh(g.count * l.nk * l.d), dqh(pairs * l.nq * l.d);
    split_heads(k, kh.data(), B, l.nk, Hkv, l.d);
    for (int64_t m = 0; m < g.size; ++m)
      gemm_batched_rows<T>(false, false, l.nq, l.d, l.nk, T(l.scale), ds.data() + m * ps, l.nk,
                           g.size * ps, kh.data(), l.d, l.nk * l.d, T(0), dqh.data() + m * qs,
                           l.d, g.size * qs, g.count);
    merge_heads(dqh.data(), grad_q, B, l.nq, H, l.d);
  }
  if (grad_k != nullptr) {   // dK = sum over the group of dS^T Q scale
    Scratch<T> qh(pairs * l.nq * l.d), dkh(g.count * l.nk * l.d);
    split_heads(q, qh.data(), B, l.nq, H, l.d);
    for (int64_t m = 0; m < g.size; ++m)
      gemm_batched_rows<T>(true, false, l.nk, l.d, l.nq, T(l.scale), ds.data() + m * ps, l.nk,
                           g.size * ps, qh.data() + m * qs, l.d, g.size * qs, T(m == 0 ? 0 : 1),
                           dkh.data(), l.d, l.nk * l.d, g.count);
    merge_heads(dkh.data(), grad_k, B, l.nk, Hkv, l.d);
  }
}

template void packed_attention_forward(Cuda, const PackedAttentionLayout&, const float*,
                                       const float*, const float*, AttentionMask<float>, float*,
                                       float*);
template void packed_attention_forward(Cuda, const PackedAttentionLayout&, const double*,
                                       const double*, const double*, AttentionMask<double>,
                                       double*, double*);
template void packed_attention_backward(Cuda, const PackedAttentionLayout&, const float*,
                                        const float*, const float*, const float*, const float*,
                                        float*, float*, float*);
template void packed_attention_backward(Cuda, const PackedAttentionLayout&, const double*,
                                        const double*, const double*, const double*,
                                        const double*, double*, double*, double*);

void packed_attention_forward(Cuda, const PackedAttentionLayout& l, const bfloat16* q,
                              const bfloat16* k, const bfloat16* v, AttentionMask<bfloat16> mask,
                              bfloat16* p, bfloat16* out) {
  if (l.pairs() == 0 || l.nq == 0) return;
  const Extents n(l);
  const Widened qf(q, n.q), kf(k, n.k), vf(v, n.v);
  Scratch<float> pf(n.p), of(n.out);
  AttentionMask<float> mf{nullptr, mask.sb, mask.sh, mask.si, mask.sj};
  std::unique_ptr<Widened> maskf;
  if (mask.data != nullptr) {
    maskf = std::make_unique<Widened>(mask.data, mask_extent(mask, l));
    mf.data = maskf->data.data();
  }
  packed_attention_forward(Cuda{}, l, qf.data.data(), kf.data.data(), vf.data.data(), mf,
                           pf.data(), of.data());
  copy_convert(Cuda{}, p, pf.data(), n.p);
  copy_convert(Cuda{}, out, of.data(), n.out);
}

void packed_attention_backward(Cuda, const PackedAttentionLayout& l, const bfloat16* q,
                               const bfloat16* k, const bfloat16* v, const bfloat16* p,
                               const bfloat16* grad_out, bfloat16* grad_q, bfloat16* grad_k,
                               bfloat16* grad_v) {
  if (l.pairs() == 0) return;
  const Extents n(l);
  const Widened qf(q, n.q), kf(k, n.k), vf(v, n.v), pf(p, n.p), dof(grad_out, n.out);
  Scratch<float> dq(grad_q ? n.q : 0), dk(grad_k ? n.k : 0), dv(grad_v ? n.v : 0);
  packed_attention_backward(Cuda{}, l, qf.data.data(), kf.data.data(), vf.data.data(),
                            pf.data.data(), dof.data.data(), grad_q ? dq.data() : nullptr,
                            grad_k ? dk.data() : nullptr, grad_v ? dv.data() : nullptr);
  if (grad_q) copy_convert(Cuda{}, grad_q, dq.data(), n.q);
  if (grad_k) copy_convert(Cuda{}, grad_k, dk.data(), n.k);
  if (grad_v) copy_convert(Cuda{}, grad_v, dv.data(), n.v);
}

}  // namespace neat::cuda
