// CPU kernel of the embedding table's gradient with padding_idx (tensor/embedding.h):
//
//   dy [count, D], ids [count] int64, dweight [V, D] (zero on entry), first_bad [1]
//   dweight[ids[i]] += dy[i]  for every i with ids[i] != padding_idx   (-1: none)
//
// *first_bad = the position of the first id outside [0, V) (then nothing is added), or -1.
// Threads split blocks of columns (for_column_blocks), each walking the ids in order, so no two
// threads add into one element and a repeated id sums in the same order on any thread count.
#pragma once
#include <cstdint>

#include "tensor/cpu/device.h"
#include "tensor/cpu/shape_ops.h"

namespace neat::cpu {

template <typename T>
void embedding_backward(Cpu, T* dweight, const T* dy, const int64_t* ids, int64_t* first_bad,
                        int64_t count, int64_t rows, int64_t dim, int64_t padding_idx) {
  *first_bad = first_out_of_range(ids, count, rows);
  if (*first_bad >= 0) return;
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
