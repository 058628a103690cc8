// CUDA kernel of the embedding table's gradient with padding_idx (tensor/cuda/embedding.cu);
// the same signature and math as tensor/cpu/embedding.h:
//   dy [count, D], ids [count] int64, dweight [V, D] (zero on entry), all device memory.
//   dweight[ids[i]] += dy[i] for every i with ids[i] != padding_idx (-1: none); the first id
//   outside [0, V) goes to the GPU's error record (tensor/cuda/device_errors.h).
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/error_slot.h"

namespace neat::cuda {

template <typename T>
void embedding_backward(Cuda, T* dweight, const T* dy, const int64_t* ids, ErrorSlot check,
                        int64_t count, int64_t rows, int64_t dim, int64_t padding_idx);

}  // namespace neat::cuda
