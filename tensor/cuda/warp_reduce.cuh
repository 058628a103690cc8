// Sums and maxima across the 32 lanes of a warp (butterfly shuffles: every lane ends with the
// result), the building block of the row kernels: one warp per row, each lane striding the row.
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

// Warps per block of the row kernels, and the blocks to give each of `rows` rows one warp.
constexpr int kRowsPerBlock = 8;
inline unsigned row_blocks(int64_t rows) { return unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace neat::cuda
