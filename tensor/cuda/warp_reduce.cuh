// Sums, maxima and minima across the 32 lanes of a warp (butterfly shuffles: every lane ends
// with the result), the building block of the row kernels: one warp per row, each lane striding
// the row. Then the same across a whole block (a kernel with one block per row, or one block
// for everything): each warp reduces, the warps' results meet in shared memory, and every
// thread of the block ends with the result.
#pragma once

namespace neat::cuda {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

template <typename T>
__device__ inline T warp_sum(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

template <typename T>
__device__ inline T warp_max(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = max(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

template <typename T>
__device__ inline T warp_min(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = min(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// warp_reduce(v) over the block's threads; `identity` leaves a value unchanged (0 for a sum).
// blockDim.x must be a multiple of kWarp (at most 1024), and every thread of the block must call
// it. The order of the additions is fixed by the block size, so a sum is deterministic.
template <typename T, typename WarpReduce>
__device__ inline T block_reduce(T v, T identity, WarpReduce warp_reduce) {
  __shared__ T per_warp[kWarp];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  v = warp_reduce(v);
  if (lane == 0) per_warp[warp] = v;
  __syncthreads();
  v = warp_reduce(lane < int(blockDim.x / kWarp) ? per_warp[lane] : identity);
  __syncthreads();  // per_warp may be written again by the next call
  return v;
}

template <typename T>
__device__ inline T block_sum(T v) {
  return block_reduce(v, T(0), [](T u) { return warp_sum(u); });
}

template <typename T>
__device__ inline T block_min(T v, T identity) {
  return block_reduce(v, identity, [](T u) { return warp_min(u); });
}

// Warps per block of the row kernels, and the blocks to give each of `rows` rows one warp.
constexpr int kRowsPerBlock = 8;
inline unsigned row_blocks(int64_t rows) { return unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace neat::cuda
