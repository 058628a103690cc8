// CPU kernels of the ops that move data between shapes. They copy whole rows where the layout
// allows it; T is the element type (any dtype: nothing here does arithmetic except index_add).
//   permute:        out contiguous [shape], x read with strides (the permuted input strides),
//                   tiled when the output's last dim is not contiguous in x
//   narrow/concat:  rows of `length` elements copied between row strides
//   index_select:   x [outer, size, inner] -> out [outer, count, inner] at index[count]
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor/cpu/device.h"
#include "tensor/cpu/device_errors.h"
#include "tensor/cpu/elementwise.h"

namespace neat::cpu {

// out (contiguous, sizes shape[0..rank)) = x read at sum_d index_d * stride[d].
template <typename T>
void permute_kernel(Cpu, T* out, const T* x, int64_t rank, const int64_t* shape, const int64_t* stride) {
  const int64_t inner = shape[rank - 1], step = stride[rank - 1];
  for_row_blocks(rank, shape, [&](int64_t begin, int64_t end) {
    RowCursor at(begin, rank, shape, stride);
    for (int64_t r = begin; r < end; ++r, at.next()) {
      T* o = out + r * inner;
      const T* p = x + at.offset();
      if (step == 1) {
        std::copy(p, p + inner, o);
      } else {
        for (int64_t j = 0; j < inner; ++j) o[j] = p[j * step];
      }
    }
  });
}

// The same copy when the output's last dim is strided in x and output dim k (< rank - 1) is x's
// contiguous one: for every index of the other dims this is a [K, L] -> [L, K]-style transpose,
// copied in square tiles so that both the reads along k and the writes along the last dim stay
// in cache (a row-by-row copy would read one element per cache line).
template <typename T>
void transpose_kernel(Cpu, T* out, const T* x, int64_t rank, const int64_t* shape, const int64_t* stride,
                      int64_t k) {
  constexpr int64_t kTile = 32;
  std::vector<int64_t> out_stride(size_t(rank), 1);  // the output is contiguous
  for (int64_t d = rank - 2; d >= 0; --d) out_stride[size_t(d)] = out_stride[size_t(d) + 1] * shape[d + 1];
  const int64_t K = shape[k], L = shape[rank - 1], step_l = stride[rank - 1];
  int64_t outer = 1;
  for (int64_t d = 0; d + 1 < rank; ++d)
    if (d != k) outer *= shape[d];
  const int64_t tiles_k = (K + kTile - 1) / kTile, tiles_l = (L + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (outer * K * L >= kParallelThreshold)
  for (int64_t task = 0; task < outer * tiles_k * tiles_l; ++task) {
    int64_t rest = task / (tiles_k * tiles_l), in_base = 0, out_base = 0;
    for (int64_t d = rank - 2; d >= 0; --d) {
      if (d == k) continue;
      const int64_t i = rest % shape[d];
      rest /= shape[d];
      in_base += i * stride[d];
      out_base += i * out_stride[size_t(d)];
    }
    const int64_t i0 = (task / tiles_l % tiles_k) * kTile, j0 = task % tiles_l * kTile;
    const int64_t i1 = std::min(K, i0 + kTile), j1 = std::min(L, j0 + kTile);
    for (int64_t i = i0; i < i1; ++i) {
      T* o = out + out_base + i * out_stride[size_t(k)];
      const T* p = x + in_base + i;
      for (int64_t j = j0; j < j1; ++j) o[j] = p[j * step_l];
    }
  }
}

// dst[r * dst_row + j] = src[r * src_row + j] for r < rows, j < length.
template <typename T>
void copy_rows(Cpu, T* dst, int64_t dst_row, const T* src, int64_t src_row, int64_t rows, int64_t length) {
#pragma omp parallel for schedule(static) if (rows * length >= kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) std::copy(src + r * src_row, src + r * src_row + length, dst + r * dst_row);
}

// out [outer, count, inner] = x [outer, size, inner] at index[count]. First checks the indices:
// the first one outside [0, size) goes to the error record (tensor/cpu/device_errors.h), and
// then nothing is copied.
template <typename T>
void index_select_kernel(Cpu, T* out, const T* x, const int64_t* index, ErrorSlot check,
                         int64_t outer, int64_t size, int64_t count, int64_t inner) {
  if (record_out_of_range(Cpu{}, index, count, size, check)) return;
#pragma omp parallel for schedule(static) if (outer * count * inner >= kParallelThreshold)
  for (int64_t t = 0; t < outer * count; ++t) {
    const int64_t o = t / count, i = t % count;
    const T* src = x + (o * size + index[i]) * inner;
    std::copy(src, src + inner, out + t * inner);
  }
}

// dx [outer, size, inner] += src [outer, count, inner] at index[count]; repeated indices add up.
// Threads split (outer, column block) pairs (for_column_blocks), so two threads never add into
// the same element. The indices are checked first, as in index_select_kernel.
template <typename T>
void index_add_kernel(Cpu, T* dx, const T* src, const int64_t* index, ErrorSlot check,
                      int64_t outer, int64_t size, int64_t count, int64_t inner) {
  if (record_out_of_range(Cpu{}, index, count, size, check)) return;
  for_column_blocks(outer, inner, outer * count * inner, [&](int64_t o, int64_t j0, int64_t j1) {
    for (int64_t i = 0; i < count; ++i) {
      T* dst = dx + (o * size + index[i]) * inner;
      const T* s = src + (o * count + i) * inner;
      for (int64_t j = j0; j < j1; ++j) dst[j] += s[j];
    }
  });
}

}  // namespace neat::cpu
