// Many tensors seen as one list of fixed-size chunks: what the multi-tensor kernels launch over,
// one CUDA block a chunk (the gradient norm and clip, tensor/cuda/grad_norm.cu; AdamW,
// tensor/cuda/adamw.cu), and what the CPU reference of the chunked norm walks in the same order
// (tensor/cpu/grad_norm.h). Tensor k's chunks follow tensor k-1's; an empty tensor has none.
//
//   tensors of 5000, 0 and 4096 elements -> chunks 0, 1 (tensor 0: [0, 4096), [4096, 5000)),
//                                           chunk 2 (tensor 2: [0, 4096))
//   int64_t chunks = multi_tensor_chunks(5000);                  // 2
//   float acc = 0;  acc = square_add(acc, x);                     // acc + x * x, one rounding
//
// Inside a chunk, thread t of kMultiTensorThreads handles elements t, t + kMultiTensorThreads,
// ...: the work of an element, and the order of a chunk's sum, never depend on the GPU.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/host_device.h"

namespace neat {

constexpr int64_t kMultiTensorChunk = 4096;   // elements of one chunk (the last may be shorter)
constexpr int kMultiTensorThreads = 256;      // threads of one chunk's block

inline int64_t multi_tensor_chunks(int64_t n) { return (n + kMultiTensorChunk - 1) / kMultiTensorChunk; }

// acc + x * x with one rounding (a fused multiply-add), written out so that the CPU reference
// and the CUDA kernel round alike whatever the compilers' contraction settings.
template <typename M>
NEAT_HOST_DEVICE inline M square_add(M acc, M x) {
  return std::fma(x, x, acc);
}

}  // namespace neat
