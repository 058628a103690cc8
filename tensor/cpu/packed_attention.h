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

}  // namespace neat::cpu
