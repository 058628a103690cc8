// CUDA kernels of multi-head attention on packed heads (tensor/cuda/packed_attention.cu); the
// same signatures and math as tensor/cpu/packed_attention.h. All pointers are device memory;
// a null gradient pointer is not computed.
#pragma once
#include "tensor/cuda/device.h"
#include "tensor/half.h"
#include "tensor/packed_attention_layout.h"

namespace neat::cuda {

template <typename T>
void packed_attention_forward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                              const T* v, AttentionMask<T> mask, T* p, T* out);
template <typename T>
void packed_attention_backward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                               const T* v, const T* p, const T* grad_out, T* grad_q, T* grad_k,
                               T* grad_v);

// bfloat16: the operands widened to float32 scratch, the float32 kernels above, P and the
// results rounded to bf16 once (correct first; see packed_attention.cu).
void packed_attention_forward(Cuda, const PackedAttentionLayout& l, const bfloat16* q,
                              const bfloat16* k, const bfloat16* v, AttentionMask<bfloat16> mask,
                              bfloat16* p, bfloat16* out);
void packed_attention_backward(Cuda, const PackedAttentionLayout& l, const bfloat16* q,
                               const bfloat16* k, const bfloat16* v, const bfloat16* p,
                               const bfloat16* grad_out, bfloat16* grad_q, bfloat16* grad_k,
                               bfloat16* grad_v);

}  // namespace neat::cuda
