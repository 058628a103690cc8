// CUDA kernels of multi-head attention on packed heads (tensor/cuda/packed_attention.h), the
// math of tensor/cpu/packed_attention.h. On the GPU a copy is cheap next to a launch, so the
// heads are gathered to [B, H, N, d] scratch (one permute kernel each), every product of all
// (b, h) pairs is one strided-batched cuBLAS call, the softmax is tensor/cuda/softmax.cu's row
// kernel in place, and the results are scattered back to the packed [B, N, H*d] layout.
#include "tensor/cuda/gemm.cuh"
#include "tensor/cuda/packed_attention.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/cuda/shape_ops.h"
#include "tensor/cuda/softmax.h"

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

// p[b, h, i, j] += mask(b, h, i, j), the mask read through its broadcast strides.
template <typename T>
__global__ void add_mask_kernel(T* p, AttentionMask<T> mask, int64_t heads, int64_t nq,
                                int64_t nk, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % nk, i = (e / nk) % nq, h = (e / (nk * nq)) % heads, b = e / (nk * nq * heads);
    p[e] += mask.data[b * mask.sb + h * mask.sh + i * mask.si + j * mask.sj];
  }
}

}  // namespace

template <typename T>
void packed_attention_forward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                              const T* v, AttentionMask<T> mask, T* p, T* out) {
  const int64_t B = l.batch, H = l.heads, pairs = l.pairs();
  if (pairs == 0 || l.nq == 0) return;
  Scratch<T> qh(pairs * l.nq * l.d), kh(pairs * l.nk * l.d), vh(pairs * l.nk * l.dv),
      oh(pairs * l.nq * l.dv);
  split_heads(q, qh.data(), B, l.nq, H, l.d);
  split_heads(k, kh.data(), B, l.nk, H, l.d);
  split_heads(v, vh.data(), B, l.nk, H, l.dv);
  // S = Q K^T scale, every (b, h) at once
  gemm_batched_rows<T>(false, true, l.nq, l.nk, l.d, T(l.scale), qh.data(), l.d, l.nq * l.d,
                       kh.data(), l.d, l.nk * l.d, T(0), p, l.nk, l.nq * l.nk, pairs);
  const int64_t n = pairs * l.nq * l.nk;
  if (mask.data != nullptr && n > 0) {
    add_mask_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(p, mask, H, l.nq, l.nk, n);
    NEAT_CUDA_CHECK(cudaGetLastError());
  }
  softmax_forward(Cuda{}, p, p, pairs * l.nq, l.nk, 1, false);
  gemm_batched_rows<T>(false, false, l.nq, l.dv, l.nk, T(1), p, l.nk, l.nq * l.nk, vh.data(), l.dv,
                       l.nk * l.dv, T(0), oh.data(), l.dv, l.nq * l.dv, pairs);
  merge_heads(oh.data(), out, B, l.nq, H, l.dv);
}

template <typename T>
void packed_attention_backward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                               const T* v, const T* p, const T* grad_out, T* grad_q, T* grad_k,
                               T* grad_v) {
  const int64_t B = l.batch, H = l.heads, pairs = l.pairs();
  if (pairs == 0) return;
  Scratch<T> doh(pairs * l.nq * l.dv);
  split_heads(grad_out, doh.data(), B, l.nq, H, l.dv);
  if (grad_v != nullptr) {   // dV = P^T dO
    Scratch<T> dvh(pairs * l.nk * l.dv);
    gemm_batched_rows<T>(true, false, l.nk, l.dv, l.nq, T(1), p, l.nk, l.nq * l.nk, doh.data(),
                         l.dv, l.nq * l.dv, T(0), dvh.data(), l.dv, l.nk * l.dv, pairs);
    merge_heads(dvh.data(), grad_v, B, l.nk, H, l.dv);
  }
  if (grad_q == nullptr && grad_k == nullptr) return;
  Scratch<T> vh(pairs * l.nk * l.dv), ds(pairs * l.nq * l.nk);
  split_heads(v, vh.data(), B, l.nk, H, l.dv);
  // dP = dO V^T, then dS = P * (dP - rowsum(dP * P)) in place
  gemm_batched_rows<T>(false, true, l.nq, l.nk, l.dv, T(1), doh.data(), l.dv, l.nq * l.dv,
                       vh.data(), l.dv, l.nk * l.dv, T(0), ds.data(), l.nk, l.nq * l.nk, pairs);
  softmax_backward(Cuda{}, ds.data(), p, ds.data(), pairs * l.nq, l.nk, 1, false);
  if (grad_q != nullptr) {   // dQ = dS K scale
    Scratch<T> kh(pairs * l.nk * l.d), dqh(pairs * l.nq * l.d);
    split_heads(k, kh.data(), B, l.nk, H, l.d);
    gemm_batched_rows<T>(false, false, l.nq, l.d, l.nk, T(l.scale), ds.data(), l.nk, l.nq * l.nk,
                         kh.data(), l.d, l.nk * l.d, T(0), dqh.data(), l.d, l.nq * l.d, pairs);
    merge_heads(dqh.data(), grad_q, B, l.nq, H, l.d);
  }
  if (grad_k != nullptr) {   // dK = dS^T Q scale
    Scratch<T> qh(pairs * l.nq * l.d), dkh(pairs * l.nk * l.d);
    split_heads(q, qh.data(), B, l.nq, H, l.d);
    gemm_batched_rows<T>(true, false, l.nk, l.d, l.nq, T(l.scale), ds.data(), l.nk, l.nq * l.nk,
                         qh.data(), l.d, l.nq * l.d, T(0), dkh.data(), l.d, l.nk * l.d, pairs);
    merge_heads(dkh.data(), grad_k, B, l.nk, H, l.d);
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

}  // namespace neat::cuda
