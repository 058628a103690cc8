// CPU kernel of the embedding table's gradient with padding_idx (tensor/embedding.h):
//
//   dy [count, D], ids [count] int64, dweight [V, D] (zero on entry)
//   dweight[ids[i]] += dy[i]  for every i with ids[i] != padding_idx   (-1: none)
//
// The first id outside [0, V) goes to the error record (tensor/cpu/device_errors.h); then
// nothing is added.
// Threads split blocks of columns (for_column_blocks), each walking the ids in order, so no two
// threads add into one element and a repeated id sums in the same order on any thread count.
#pragma once
#include <cstdint>

#include "tensor/cpu/device.h"
#include "tensor/cpu/device_errors.h"
#include "tensor/cpu/shape_ops.h"

namespace neat::cpu {

template <typename T>
void embedding_backward(Cpu, T* dweight, const T* dy, const int64_t* ids, ErrorSlot check,
                        int64_t count, int64_t rows, int64_t dim, int64_t padding_idx) {
  if (record_out_of_range(Cpu{}, ids, count, rows, check)) return;
  for_column_blocks(1, dim, count * dim, [&](int64_t, int64_t j0, int64_t j1) {
    for (int64_t i = 0; i < count; ++i) {
      if (ids[i] == padding_idx) continue;
      T* dst = dweight + ids[i] * dim;
      const T* src = dy + i * dim;
      for (int64_t j = j0; j < j1; ++j) dst[j] += src[j];
    }
  });
}

}  // namespace neat::cpu
