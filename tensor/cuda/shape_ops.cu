// CUDA kernels of the ops that move data between shapes (tensor/cuda/shape_ops.h), the
// counterparts of tensor/cpu/shape_ops.h. Every kernel copies; only index_add adds.
//   permute:       out [shape] (contiguous) = x at sum_d i_d stride[d]; strided_copy
//                  (tensor/cuda/strided.cuh: 16-byte units where x's last dim is contiguous,
//                  32-bit indices where they fit), or, when the output's last dim is strided in x and dim k is x's
//                  contiguous one, 32 x 32 tiles through shared memory so that both the reads
//                  (along k) and the writes (along the last dim) are coalesced
//   copy_rows:     dst[r dst_row + j] = src[r src_row + j], r < rows, j < length
//   index_select:  out [outer, count, inner] = x [outer, size, inner] at index[count]
//   index_add:     dx [outer, size, inner] += src [outer, count, inner] at index[count]
// Every kernel but index_add also for bfloat16 (tensor/shape_ops.cpp runs a bf16 index_add in
// float32). The indices are checked in a kernel, as on the CPU: the first index outside
// [0, size) goes to the GPU's error record (record_out_of_range, tensor/cuda/device_errors.h),
// which tensor/device_errors.cpp reads when asked. An out-of-range index is skipped by the copy,
// which is thrown away with the error.
//
// index_add without atomics: one thread owns one column (o, j) of dx and walks the indices in
// order i = 0, 1, ..., count - 1, adding src[o, i, j] into dx[o, index[i], j]. So repeated
// indices add up in the CPU's order (bit-identical sums, deterministic run to run), and no two
// threads touch one element. The parallelism is outer * inner columns, which is enough where
// the op is used (the gradient of a gather of rows of D >= 64 columns); a float atomicAdd would
// add in a different order on every run.
#include "tensor/check.h"
#include "tensor/half.h"
#include "tensor/cuda/device_errors.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/shape_ops.h"
#include "tensor/cuda/strided.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

constexpr int kTile = 32;      // a tile is kTile x kTile elements
constexpr int kTileRows = 8;   // threads per block: kTile x kTileRows, each copies 4 elements

// The [K, L] -> out tiles of one transpose: dim k of the output (size K) is contiguous in x,
// the last dim (size L) is strided by step_l in x and contiguous in out. `outer` counts the
// indices of the other dims, whose offsets in x and out the kernel finds from in / out_stride.
struct TransposeLayout {
  Strided<1> in;
  int64_t out_stride[kMaxDims] = {};
  int k = 0;
  int64_t K = 0, L = 0, step_l = 0, outer = 1, tiles_l = 0;
};

// Block (tile_k, tile_l) of blockIdx.x, outer indices blockIdx.z, blockIdx.z + gridDim.z, ...
// Reads: threadIdx.x walks k (contiguous in x). Writes: threadIdx.x walks the last dim.
// tile[j - j0][i - i0] holds element (i, j); the +1 column keeps the columns' banks apart.
template <typename T>
__global__ void transpose_tiles(T* out, const T* x, TransposeLayout t) {
  __shared__ T tile[kTile][kTile + 1];
  const int64_t i0 = (blockIdx.x / t.tiles_l) * int64_t(kTile);
  const int64_t j0 = (blockIdx.x % t.tiles_l) * int64_t(kTile);
  const int rank = t.in.rank;
  for (int64_t o = blockIdx.z; o < t.outer; o += gridDim.z) {
    int64_t rest = o, in_base = 0, out_base = 0;
    for (int d = rank - 2; d >= 0; --d) {
      if (d == t.k) continue;
      const int64_t i = rest % t.in.shape[d];
      rest /= t.in.shape[d];
      in_base += i * t.in.stride[0][d];
      out_base += i * t.out_stride[d];
    }
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t i = i0 + threadIdx.x, j = j0 + r;
      if (i < t.K && j < t.L) tile[r][threadIdx.x] = x[in_base + i + j * t.step_l];
    }
    __syncthreads();
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t i = i0 + r, j = j0 + threadIdx.x;
      if (i < t.K && j < t.L) out[out_base + i * t.out_stride[t.k] + j] = tile[threadIdx.x][r];
    }
    __syncthreads();   // the tile is read before the next outer index overwrites it
  }
}

template <typename T>
__global__ void copy_rows_kernel(T* dst, int64_t dst_row, const T* src, int64_t src_row,
                                 int64_t rows, int64_t length) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < rows * length; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e / length, j = e % length;
    dst[r * dst_row + j] = src[r * src_row + j];
  }
}

template <typename T>
__global__ void index_select_gather(T* out, const T* x, const int64_t* index, int64_t outer,
                                    int64_t size, int64_t count, int64_t inner) {
  const int64_t n = outer * count * inner;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % inner, t = e / inner, o = t / count, row = index[t % count];
    if (row >= 0 && row < size) out[e] = x[(o * size + row) * inner + j];
  }
}

// One thread per column (o, j) of dx, the indices walked in order (see the head comment).
template <typename T>
__global__ void index_add_columns(T* dx, const T* src, const int64_t* index, int64_t outer,
                                  int64_t size, int64_t count, int64_t inner) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < outer * inner; c += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = c / inner, j = c % inner;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t row = index[i];
      if (row >= 0 && row < size) dx[(o * size + row) * inner + j] += src[(o * count + i) * inner + j];
    }
  }
}

}  // namespace

template <typename T>
void permute_kernel(Cuda, T* out, const T* x, int64_t rank, const int64_t* shape,
                    const int64_t* stride) {
  strided_copy(out, x, strided_layout<1>(rank, shape, {stride}, "permute"));
}

template <typename T>
void transpose_kernel(Cuda, T* out, const T* x, int64_t rank, const int64_t* shape,
                      const int64_t* stride, int64_t k) {
  TransposeLayout t;
  t.in = strided_layout<1>(rank, shape, {stride}, "permute");
  t.out_stride[rank - 1] = 1;   // the output is contiguous
  for (int64_t d = rank - 2; d >= 0; --d) t.out_stride[d] = t.out_stride[d + 1] * shape[d + 1];
  t.k = int(k);
  t.K = shape[k];
  t.L = shape[rank - 1];
  t.step_l = stride[rank - 1];
  for (int64_t d = 0; d + 1 < rank; ++d)
    if (d != k) t.outer *= shape[d];
  if (t.K == 0 || t.L == 0 || t.outer == 0) return;
  t.tiles_l = (t.L + kTile - 1) / kTile;
  const int64_t tiles = (t.K + kTile - 1) / kTile * t.tiles_l;
  NEAT_CHECK(tiles <= 0x7fffffff, "permute: ", tiles, " tiles of ", kTile, " x ", kTile,
             " are more than one CUDA grid holds");
  const dim3 grid(unsigned(tiles), 1, unsigned(t.outer < 65535 ? t.outer : 65535));
  transpose_tiles<<<grid, dim3(kTile, kTileRows), 0, stream()>>>(out, x, t);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void copy_rows(Cuda, T* dst, int64_t dst_row, const T* src, int64_t src_row, int64_t rows,
               int64_t length) {
  if (rows == 0 || length == 0) return;
  copy_rows_kernel<<<blocks_for(rows * length), kThreads, 0, stream()>>>(dst, dst_row, src, src_row, rows, length);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void index_select_kernel(Cuda, T* out, const T* x, const int64_t* index, ErrorSlot check,
                         int64_t outer, int64_t size, int64_t count, int64_t inner) {
  record_out_of_range(Cuda{}, index, count, size, check);
  const int64_t n = outer * count * inner;
  if (n == 0) return;
  index_select_gather<<<blocks_for(n), kThreads, 0, stream()>>>(out, x, index, outer, size, count, inner);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void index_add_kernel(Cuda, T* dx, const T* src, const int64_t* index, ErrorSlot check,
                      int64_t outer, int64_t size, int64_t count, int64_t inner) {
  record_out_of_range(Cuda{}, index, count, size, check);
  if (outer * inner == 0 || count == 0) return;
  index_add_columns<<<blocks_for(outer * inner), kThreads, 0, stream()>>>(dx, src, index, outer, size, count, inner);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void permute_kernel(Cuda, float*, const float*, int64_t, const int64_t*, const int64_t*);
template void permute_kernel(Cuda, double*, const double*, int64_t, const int64_t*, const int64_t*);
template void permute_kernel(Cuda, int64_t*, const int64_t*, int64_t, const int64_t*, const int64_t*);
template void transpose_kernel(Cuda, float*, const float*, int64_t, const int64_t*, const int64_t*, int64_t);
template void transpose_kernel(Cuda, double*, const double*, int64_t, const int64_t*, const int64_t*, int64_t);
template void transpose_kernel(Cuda, int64_t*, const int64_t*, int64_t, const int64_t*, const int64_t*, int64_t);
template void copy_rows(Cuda, float*, int64_t, const float*, int64_t, int64_t, int64_t);
template void copy_rows(Cuda, double*, int64_t, const double*, int64_t, int64_t, int64_t);
template void copy_rows(Cuda, int64_t*, int64_t, const int64_t*, int64_t, int64_t, int64_t);
template void index_select_kernel(Cuda, float*, const float*, const int64_t*, ErrorSlot, int64_t, int64_t, int64_t, int64_t);
template void index_select_kernel(Cuda, double*, const double*, const int64_t*, ErrorSlot, int64_t, int64_t, int64_t, int64_t);
template void index_select_kernel(Cuda, int64_t*, const int64_t*, const int64_t*, ErrorSlot, int64_t, int64_t, int64_t, int64_t);
template void permute_kernel(Cuda, bfloat16*, const bfloat16*, int64_t, const int64_t*, const int64_t*);
template void transpose_kernel(Cuda, bfloat16*, const bfloat16*, int64_t, const int64_t*, const int64_t*, int64_t);
template void copy_rows(Cuda, bfloat16*, int64_t, const bfloat16*, int64_t, int64_t, int64_t);
template void index_select_kernel(Cuda, bfloat16*, const bfloat16*, const int64_t*, ErrorSlot, int64_t, int64_t, int64_t, int64_t);
template void index_add_kernel(Cuda, float*, const float*, const int64_t*, ErrorSlot, int64_t, int64_t, int64_t, int64_t);
template void index_add_kernel(Cuda, double*, const double*, const int64_t*, ErrorSlot, int64_t, int64_t, int64_t, int64_t);
template void index_add_kernel(Cuda, int64_t*, const int64_t*, const int64_t*, ErrorSlot, int64_t, int64_t, int64_t, int64_t);

}  // namespace neat::cuda
