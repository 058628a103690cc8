// CUDA kernels of flash attention (tensor/cuda/flash_attention.cu); the same signatures and math
// as tensor/cpu/flash_attention.h. All pointers are device memory; a null gradient pointer is not
// computed. float32 and bfloat16 (math in float32); float64 is the CPU's reference only, an error
// here.
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/dtype.h"
#include "tensor/half.h"
#include "tensor/packed_attention_layout.h"

namespace neat::cuda {

// The head sizes the kernels take: d and dv up to kFlashMaxHead (any size below it).
constexpr int64_t kFlashMaxHead = 128;
// float32 or bfloat16 with d, dv <= kFlashMaxHead.
bool flash_attention_preferred(Cuda, DType dtype, int64_t d, int64_t dv);

template <typename T>
void flash_attention_forward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                             const T* v, AttentionMask<T> mask, T* out, math_t<T>* stats);
template <typename T>
void flash_attention_backward(Cuda, const PackedAttentionLayout& l, const T* q, const T* k,
                              const T* v, AttentionMask<T> mask, const T* out,
                              const math_t<T>* stats, const T* grad_out, T* grad_q, T* grad_k,
                              T* grad_v);

}  // namespace neat::cuda
