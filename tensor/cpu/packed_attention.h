// CPU kernels of multi-head attention on packed heads (the layout and the math:
// tensor/packed_attention_layout.h, tensor/packed_attention.h).
//
// Each (b, h) pair is one task, and the tasks are spread over the threads: every product reads
// its head in place through the GEMM's row stride (H d) and writes where the result belongs, so
// no head is copied, and one head's [Nq, Nk] scores stay in cache between the GEMM that writes
// them, the softmax and the GEMM that reads them. Inside a task the GEMM sees omp_in_parallel()
// and stays on its thread; each output element is computed by one task in a fixed order, so the
// results are the same bits on any number of threads. Backward's tasks are (b, key / value
// head) pairs, so that one task adds up the G query heads' shares of a shared dK and dV.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "tensor/cpu/device.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/softmax.h"
#include "tensor/packed_attention_layout.h"

namespace neat::cpu {

// p [B, H, Nq, Nk] <- softmax(Q K^T scale + mask (+ causal)), out [B, Nq, H*dv] <- P V, head by
// head.
template <typename T>
void packed_attention_forward(Cpu, const PackedAttentionLayout& l, const T* q, const T* k,
                              const T* v, AttentionMask<T> mask, T* p, T* out) {
  const int64_t q_ld = l.heads * l.d, k_ld = l.kv_heads * l.d, v_ld = l.kv_heads * l.dv,
                out_ld = l.heads * l.dv;
  // Always a parallel region (no `if`): a GEMM inside a switched-off region would start its own
  // team of threads (tensor/cpu/matmul.h).
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < l.pairs(); ++t) {
    const int64_t b = t / l.heads, h = t % l.heads;
    T* pt = p + l.p_offset(b, h);
    typed_gemm<T>(false, true, l.nq, l.nk, l.d, T(l.scale), q + l.q_offset(b, h), q_ld,
                         k + l.k_offset(b, h), k_ld, T(0), pt, l.nk);
    if (mask.data != nullptr)
      for (int64_t i = 0; i < l.nq; ++i) {
        T* row = pt + i * l.nk;
        const T* mask_row = mask.data + b * mask.sb + h * mask.sh + i * mask.si;
        for (int64_t j = 0; j < l.nk; ++j) row[j] += mask_row[j * mask.sj];
      }
    if (l.causal)   // the keys after query i's last: e^-inf = 0 in the softmax
      for (int64_t i = 0; i < l.nq; ++i)
        for (int64_t j = l.last_key(i) + 1; j < l.nk; ++j)
          pt[i * l.nk + j] = -std::numeric_limits<T>::infinity();
    softmax_forward_rows(pt, l.nq, l.nk);   // in place
    typed_gemm<T>(false, false, l.nq, l.dv, l.nk, T(1), pt, l.nk, v + l.v_offset(b, h), v_ld,
                         T(0), out + l.out_offset(b, h), out_ld);
  }
}

// dv = P^T dO, dS = softmax_backward(dO V^T, P), dq = dS K scale, dk = dS^T Q scale, head by
// head; a null gradient pointer is not computed. dS lives in one [Nq, Nk] buffer per thread.
// A task is a (b, key / value head) pair and walks its G query heads in order: the first one
// writes dk and dv (beta 0), the others add to them (beta 1).
template <typename T>
void packed_attention_backward(Cpu, const PackedAttentionLayout& l, const T* q, const T* k,
                               const T* v, const T* p, const T* grad_out, T* grad_q, T* grad_k,
                               T* grad_v) {
  const int64_t q_ld = l.heads * l.d, k_ld = l.kv_heads * l.d, v_ld = l.kv_heads * l.dv,
                out_ld = l.heads * l.dv, G = l.group();
  const T scale = T(l.scale);
#pragma omp parallel
  {
    std::vector<T> grad_s(grad_q != nullptr || grad_k != nullptr ? size_t(l.nq * l.nk) : 0);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < l.batch * l.kv_heads; ++t) {
      const int64_t b = t / l.kv_heads;
      for (int64_t h = (t % l.kv_heads) * G; h < (t % l.kv_heads + 1) * G; ++h) {
        const T beta = T(h % G == 0 ? 0 : 1);   // the group's first query head writes dk, dv
        const T* pt = p + l.p_offset(b, h);
        const T* dout = grad_out + l.out_offset(b, h);
        if (grad_v != nullptr)
          typed_gemm<T>(true, false, l.nk, l.dv, l.nq, T(1), pt, l.nk, dout, out_ld, beta,
                        grad_v + l.v_offset(b, h), v_ld);
        if (grad_s.empty()) continue;
        T* ds = grad_s.data();
        typed_gemm<T>(false, true, l.nq, l.nk, l.dv, T(1), dout, out_ld, v + l.v_offset(b, h),
                      v_ld, T(0), ds, l.nk);
        for (int64_t i = 0; i < l.nq; ++i)   // in place: dS row i from dP row i and P row i
          softmax_backward_row<true>(ds + i * l.nk, pt + i * l.nk, ds + i * l.nk, l.nk, 1, false);
        if (grad_q != nullptr)
          typed_gemm<T>(false, false, l.nq, l.d, l.nk, scale, ds, l.nk, k + l.k_offset(b, h),
                        k_ld, T(0), grad_q + l.q_offset(b, h), q_ld);
        if (grad_k != nullptr)
          typed_gemm<T>(true, false, l.nk, l.d, l.nq, scale, ds, l.nk, q + l.q_offset(b, h),
                        q_ld, beta, grad_k + l.k_offset(b, h), k_ld);
      }
    }
  }
}

// bfloat16 q, k, v, out and p. Per task, in float32 buffers of the thread's: S from bf16_gemm
// (float32 sums), the mask and the softmax in float32; P is rounded to bf16 once, saved, and
// multiplied by V with bf16_gemm (float32 sums, out rounded once).
// P is kept in bf16, as PyTorch's math path keeps it under autocast: [B, H, Nq, Nk] is the
// largest tensor a training step saves (12 x 64 x 197^2 x 4 bytes = 119 MB a ViT-B layer in
// float32), and the product P V wants a bf16 operand anyway. Its rounding moves each
// probability by at most 2^-8 of itself, bf16's unit roundoff, as any bf16 activation.
inline void packed_attention_forward(Cpu, const PackedAttentionLayout& l, const bfloat16* q,
                                     const bfloat16* k, const bfloat16* v,
                                     AttentionMask<bfloat16> mask, bfloat16* p, bfloat16* out) {
  const int64_t q_ld = l.heads * l.d, k_ld = l.kv_heads * l.d, v_ld = l.kv_heads * l.dv,
                out_ld = l.heads * l.dv;
#pragma omp parallel
  {
    std::vector<float> s(size_t(l.nq * l.nk));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < l.pairs(); ++t) {
      const int64_t b = t / l.heads, h = t % l.heads;
      bf16_gemm(false, true, l.nq, l.nk, l.d, float(l.scale), q + l.q_offset(b, h), q_ld,
                k + l.k_offset(b, h), k_ld, 0.0f, s.data(), l.nk);
      if (mask.data != nullptr)
        for (int64_t i = 0; i < l.nq; ++i) {
          const bfloat16* mask_row = mask.data + b * mask.sb + h * mask.sh + i * mask.si;
          for (int64_t j = 0; j < l.nk; ++j)
            s[size_t(i * l.nk + j)] += float(mask_row[j * mask.sj]);
        }
      if (l.causal)
        for (int64_t i = 0; i < l.nq; ++i)
          for (int64_t j = l.last_key(i) + 1; j < l.nk; ++j)
            s[size_t(i * l.nk + j)] = -std::numeric_limits<float>::infinity();
      softmax_forward_rows(s.data(), l.nq, l.nk);
      bfloat16* pt = p + l.p_offset(b, h);
      for (int64_t e = 0; e < l.nq * l.nk; ++e) pt[e] = bfloat16(s[size_t(e)]);
      bf16_gemm(false, false, l.nq, l.dv, l.nk, 1.0f, pt, l.nk, v + l.v_offset(b, h), v_ld, 0.0f,
                out + l.out_offset(b, h), out_ld);
    }
  }
}

// The bf16 backward: dV and dK of a key / value head summed over its G query heads in float32
// buffers and rounded once; dP = dO V^T in float32, dS from it and the widened P in float32,
// rounded to bf16 for the two products dQ = dS K scale (rounded once) and dK += dS^T Q scale.
inline void packed_attention_backward(Cpu, const PackedAttentionLayout& l, const bfloat16* q,
                                      const bfloat16* k, const bfloat16* v, const bfloat16* p,
                                      const bfloat16* grad_out, bfloat16* grad_q,
                                      bfloat16* grad_k, bfloat16* grad_v) {
  const int64_t q_ld = l.heads * l.d, k_ld = l.kv_heads * l.d, v_ld = l.kv_heads * l.dv,
                out_ld = l.heads * l.dv, G = l.group();
  const float scale = float(l.scale);
  const bool need_s = grad_q != nullptr || grad_k != nullptr;
  // rows x cols of float32 acc into dst (row stride ld), rounded once.
  auto narrow = [](const std::vector<float>& acc, bfloat16* dst, int64_t rows, int64_t cols,
                   int64_t ld) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) dst[i * ld + j] = bfloat16(acc[size_t(i * cols + j)]);
  };
#pragma omp parallel
  {
    std::vector<float> ds(need_s ? size_t(l.nq * l.nk) : 0), p_row(need_s ? size_t(l.nk) : 0);
    std::vector<bfloat16> ds16(need_s ? size_t(l.nq * l.nk) : 0);
    std::vector<float> dk(grad_k ? size_t(l.nk * l.d) : 0), dv(grad_v ? size_t(l.nk * l.dv) : 0);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < l.batch * l.kv_heads; ++t) {
      const int64_t b = t / l.kv_heads, h0 = (t % l.kv_heads) * G;
      for (int64_t h = h0; h < h0 + G; ++h) {
        const float beta = h == h0 ? 0.0f : 1.0f;   // the group's first query head writes
        const bfloat16* pt = p + l.p_offset(b, h);
        const bfloat16* dout = grad_out + l.out_offset(b, h);
        if (grad_v != nullptr)
          bf16_gemm(true, false, l.nk, l.dv, l.nq, 1.0f, pt, l.nk, dout, out_ld, beta, dv.data(),
                    l.dv);
        if (!need_s) continue;
        bf16_gemm(false, true, l.nq, l.nk, l.dv, 1.0f, dout, out_ld, v + l.v_offset(b, h), v_ld,
                  0.0f, ds.data(), l.nk);
        for (int64_t i = 0; i < l.nq; ++i) {   // dS row i from dP row i and P row i
          float* ds_row = ds.data() + i * l.nk;
          for (int64_t j = 0; j < l.nk; ++j) p_row[size_t(j)] = float(pt[i * l.nk + j]);
          softmax_backward_row<true>(ds_row, p_row.data(), ds_row, l.nk, 1, false);
          for (int64_t j = 0; j < l.nk; ++j) ds16[size_t(i * l.nk + j)] = bfloat16(ds_row[j]);
        }
        if (grad_q != nullptr)
          bf16_gemm(false, false, l.nq, l.d, l.nk, scale, ds16.data(), l.nk,
                    k + l.k_offset(b, h), k_ld, 0.0f, grad_q + l.q_offset(b, h), q_ld);
        if (grad_k != nullptr)
          bf16_gemm(true, false, l.nk, l.d, l.nq, scale, ds16.data(), l.nk, q + l.q_offset(b, h),
                    q_ld, beta, dk.data(), l.d);
      }
      if (grad_v != nullptr) narrow(dv, grad_v + l.v_offset(b, h0), l.nk, l.dv, v_ld);
      if (grad_k != nullptr) narrow(dk, grad_k + l.k_offset(b, h0), l.nk, l.d, k_ld);
    }
  }
}

}  // namespace neat::cpu
