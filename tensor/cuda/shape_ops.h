// CUDA kernels of the ops that move data between shapes (tensor/cuda/shape_ops.cu); the same
// signatures and meaning as tensor/cpu/shape_ops.h. T: float, double, int64_t, and bfloat16 for
// all but index_add. shape and stride are host arrays of `rank` entries (at most kMaxDims after
// merging, tensor/cuda/strided.cuh), index and first_bad device memory.
//   permute:        out contiguous [shape], x read with strides (the permuted input strides),
//                   tiled when the output's last dim is not contiguous in x
//   narrow/concat:  rows of `length` elements copied between row strides
//   index_select:   x [outer, size, inner] -> out [outer, count, inner] at index[count]
//   index_add:      dx [outer, size, inner] += src [outer, count, inner] at index[count]
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"

namespace neat::cuda {

// *first_bad = the position of the first of index[0..count) outside [0, size), or -1 (the
// check before index_select / index_add, and cross-entropy's label check).
void first_out_of_range(Cuda, const int64_t* index, int64_t count, int64_t size,
                        int64_t* first_bad);

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
void index_select_kernel(Cuda, T* out, const T* x, const int64_t* index, int64_t* first_bad,
                         int64_t outer, int64_t size, int64_t count, int64_t inner);
template <typename T>
void index_add_kernel(Cuda, T* dx, const T* src, const int64_t* index, int64_t* first_bad,
                      int64_t outer, int64_t size, int64_t count, int64_t inner);

}  // namespace neat::cuda
