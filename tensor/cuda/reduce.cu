// CUDA kernels of the reductions (tensor/cuda/reduce.h), the math of tensor/cpu/reduce.h:
//   sum:             out [outer, inner] = sum over r of x [outer, R, inner]
//   max:             values / indices [outer, inner] = max / first argmax over r (a NaN wins, the
//                    first NaN over later ones, like torch.max)
//   max_backward:    dx [outer, R, inner] = 0 except dx[o, indices[o, j], j] = grad [o, j]
//   sum of squares:  *total += x[0]^2 + ... + x[n-1]^2 (total double, the sum in math_t<T>)
// Sums accumulate in M = math_t<T> (float32 for float32 and bfloat16, widened as read, double
// for float64; rounded once when stored, after the scale: mean's 1 / count, sum's 1). Every sum adds in an order fixed by the
// sizes alone (no floating-point atomics), so the same input gives the same bits on every run:
//   inner == 1:  one block per output (the row is contiguous), threads striding it, block_sum
//   inner > 1:   one thread per output column, reading rows r in order (neighbouring threads
//                read neighbouring columns: coalesced). With few columns the rows are cut into
//                chunks, each summed by its own threads into a scratch buffer, and a second
//                kernel adds the chunks in order.
//   squares:     a fixed grid of blocks writes one partial sum each (each thread's strided sum,
//                then block_sum's fixed shuffle tree), one block adds them the same way.
#include <algorithm>

#include "tensor/cuda/reduce.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

// Column sums aim for about this many threads in flight; a chunk has at least kMinChunkRows rows.
constexpr int64_t kTargetThreads = int64_t(1) << 17;
constexpr int64_t kMaxChunks = 64, kMinChunkRows = 16;
// Blocks of the first pass of the sum of squares.
constexpr int64_t kSquaresBlocks = 1024;

template <typename T>
__global__ void sum_rows(T* out, const T* x, int64_t outer, int64_t R, math_t<T> scale) {
  using M = math_t<T>;
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {  // the whole block takes the same o
    M s = 0;
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) s += M(x[o * R + r]);
    s = block_sum(s);
    if (threadIdx.x == 0) out[o] = T(s * scale);
  }
}

// partial [chunks, outer * inner] (P: T itself when chunks = 1 and this is the result, else M):
// chunk c = blockIdx.y sums rows [R c / chunks, R (c+1) / chunks), times scale.
template <typename T, typename P>
__global__ void sum_columns(P* partial, const T* x, int64_t outer, int64_t R, int64_t inner,
                            int64_t chunks, math_t<T> scale) {
  using M = math_t<T>;
  const int64_t outputs = outer * inner, c = blockIdx.y;
  const int64_t r0 = R * c / chunks, r1 = R * (c + 1) / chunks;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < outputs; i += int64_t(gridDim.x) * blockDim.x) {
    const T* column = x + (i / inner) * R * inner + i % inner;
    M s = 0;
    for (int64_t r = r0; r < r1; ++r) s += M(column[r * inner]);
    partial[c * outputs + i] = P(s * scale);
  }
}

// out [outputs] = scale * sum over c, in order, of partial [chunks, outputs].
template <typename T>
__global__ void sum_chunks(T* out, const math_t<T>* partial, int64_t outputs, int64_t chunks,
                           math_t<T> scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < outputs; i += int64_t(gridDim.x) * blockDim.x) {
    math_t<T> s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += partial[c * outputs + i];
    out[i] = T(s * scale);
  }
}

template <typename T>
__global__ void max_columns(T* values, int64_t* indices, const T* x, int64_t outer, int64_t R,
                            int64_t inner) {
  using M = math_t<T>;  // compared widened; the maximum is stored as it was
  const int64_t outputs = outer * inner;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < outputs; i += int64_t(gridDim.x) * blockDim.x) {
    const T* column = x + (i / inner) * R * inner + i % inner;
    M best = M(column[0]);
    int64_t where = 0;
    for (int64_t r = 1; r < R; ++r) {
      const M v = M(column[r * inner]);
      if (v > best || (v != v && best == best)) {
        best = v;
        where = r;
      }
    }
    values[i] = column[where * inner];
    indices[i] = where;
  }
}

template <typename T>
__global__ void scatter_max_grad(T* dx, const T* grad, const int64_t* indices, int64_t outer,
                                 int64_t R, int64_t inner) {
  const int64_t outputs = outer * inner;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < outputs; i += int64_t(gridDim.x) * blockDim.x)
    dx[((i / inner) * R + indices[i]) * inner + i % inner] = grad[i];
}

// partial[block] = the sum of x^2 over the elements this block's threads visit.
template <typename T>
__global__ void sum_of_squares_partial(const T* x, int64_t n, math_t<T>* partial) {
  using M = math_t<T>;
  M s = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    s += M(x[i]) * M(x[i]);
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// One block: *total += partial[0] + ... + partial[count-1].
template <typename M>
__global__ void add_partials(const M* partial, int64_t count, double* total) {
  M s = 0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *total += double(s);
}

}  // namespace

// R = 0 goes the general way: every sum is 0, times scale.
template <typename T>
void sum_kernel(Cuda, T* out, const T* x, int64_t outer, int64_t R, int64_t inner,
                math_t<T> scale) {
  const int64_t outputs = outer * inner;
  if (outputs == 0) return;
  if (inner == 1) {
    sum_rows<<<blocks_for(outer, 1), kThreads, 0, stream()>>>(out, x, outer, R, scale);
    NEAT_CUDA_CHECK(cudaGetLastError());
    return;
  }
  const int64_t chunks =
      std::max<int64_t>(1, std::min({kMaxChunks, kTargetThreads / outputs, R / kMinChunkRows}));
  const dim3 grid(blocks_for(outputs), unsigned(chunks));
  if (chunks == 1) {
    sum_columns<<<grid, kThreads, 0, stream()>>>(out, x, outer, R, inner, chunks, scale);
    NEAT_CUDA_CHECK(cudaGetLastError());
    return;
  }
  using M = math_t<T>;
  Scratch<M> partial(chunks * outputs);
  sum_columns<<<grid, kThreads, 0, stream()>>>(partial.data(), x, outer, R, inner, chunks, M(1));
  NEAT_CUDA_CHECK(cudaGetLastError());
  sum_chunks<<<blocks_for(outputs), kThreads, 0, stream()>>>(out, partial.data(), outputs, chunks,
                                                             scale);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void max_kernel(Cuda, T* values, int64_t* indices, const T* x, int64_t outer, int64_t R, int64_t inner) {
  const int64_t outputs = outer * inner;
  if (outputs == 0) return;
  max_columns<<<blocks_for(outputs), kThreads, 0, stream()>>>(values, indices, x, outer, R, inner);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void max_backward_kernel(Cuda, T* dx, const T* grad, const int64_t* indices, int64_t outer,
                         int64_t R, int64_t inner) {
  const int64_t outputs = outer * inner;
  if (outputs * R == 0) return;
  NEAT_CUDA_CHECK(cudaMemsetAsync(dx, 0, size_t(outputs * R) * sizeof(T), stream()));
  scatter_max_grad<<<blocks_for(outputs), kThreads, 0, stream()>>>(dx, grad, indices, outer, R, inner);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void add_sum_of_squares(Cuda, const T* x, int64_t n, double* total) {
  if (n == 0) return;
  const int64_t blocks = std::min<int64_t>(blocks_for(n), kSquaresBlocks);
  Scratch<math_t<T>> partial(blocks);
  sum_of_squares_partial<<<unsigned(blocks), kThreads, 0, stream()>>>(x, n, partial.data());
  NEAT_CUDA_CHECK(cudaGetLastError());
  add_partials<<<1, kThreads, 0, stream()>>>(partial.data(), blocks, total);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void sum_kernel(Cuda, float*, const float*, int64_t, int64_t, int64_t, float);
template void sum_kernel(Cuda, double*, const double*, int64_t, int64_t, int64_t, double);
template void sum_kernel(Cuda, int64_t*, const int64_t*, int64_t, int64_t, int64_t, int64_t);
template void sum_kernel(Cuda, bfloat16*, const bfloat16*, int64_t, int64_t, int64_t, float);
template void max_kernel(Cuda, float*, int64_t*, const float*, int64_t, int64_t, int64_t);
template void max_kernel(Cuda, double*, int64_t*, const double*, int64_t, int64_t, int64_t);
template void max_kernel(Cuda, int64_t*, int64_t*, const int64_t*, int64_t, int64_t, int64_t);
template void max_backward_kernel(Cuda, float*, const float*, const int64_t*, int64_t, int64_t, int64_t);
template void max_backward_kernel(Cuda, double*, const double*, const int64_t*, int64_t, int64_t, int64_t);
template void add_sum_of_squares(Cuda, const float*, int64_t, double*);
template void add_sum_of_squares(Cuda, const double*, int64_t, double*);
template void max_kernel(Cuda, bfloat16*, int64_t*, const bfloat16*, int64_t, int64_t, int64_t);
template void max_backward_kernel(Cuda, bfloat16*, const bfloat16*, const int64_t*, int64_t, int64_t, int64_t);
template void add_sum_of_squares(Cuda, const bfloat16*, int64_t, double*);

}  // namespace neat::cuda
