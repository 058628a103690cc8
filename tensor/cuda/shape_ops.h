// CUDA kernels of the ops that move data between shapes (tensor/cuda/shape_ops.cu); the same
// signatures and meaning as tensor/cpu/shape_ops.h. T: float, double, int64_t, and bfloat16 for
// all but index_add. shape and stride are host arrays of `rank` entries (at most kMaxDims after
// merging, tensor/cuda/strided.cuh), index device memory; the index check records into the GPU's
// error record (tensor/cuda/device_errors.h).
//   permute:        out contiguous [shape], x read with strides (the permuted input strides),
//                   tiled when the output's last dim is not contiguous in x
//   narrow/concat:  rows of `length` elements copied between row strides
//   index_select:   x [outer, size, inner] -> out [outer, count, inner] at index[count]
//   index_add:      dx [outer, size, inner] += src [outer, count, inner] at index[count]
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/error_slot.h"

namespace neat::cuda {

template <typename T>
void permute_kernel(Cuda, T* out, const T* x, int64_t rank, const int64_t* shape,
                    const int64_t* stride);
template <typename T>
void transpose_kernel(Cuda, T* out, const T* x, int64_t rank, const int64_t* shape,
                      const int64_t* stride, int64_t k);
template <typename T>
void copy_rows(Cuda, T* dst, int64_t dst_row, const T* src, int64_t src_row, int64_t rows,
               int64_t length);
template <typename T>
void index_select_kernel(Cuda, T* out, const T* x, const int64_t* index, ErrorSlot check,
                         int64_t outer, int64_t size, int64_t count, int64_t inner);
template <typename T>
void index_add_kernel(Cuda, T* dx, const T* src, const int64_t* index, ErrorSlot check,
                      int64_t outer, int64_t size, int64_t count, int64_t inner);

}  // namespace neat::cuda
