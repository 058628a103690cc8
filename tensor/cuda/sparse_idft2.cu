// CUDA kernels of the two sparse stages of FourierFT's inverse DFT (tensor/cuda/sparse_idft2.h),
// the math of tensor/cpu/sparse_idft2.h (docs/fourierft.md). With the nonzeros' rows grouped
// into U distinct row slots:
//   stage 1:  t [2U, I]   t[j, q]     = sum over k in slot j of c_k cos(2 pi v_k q / I)
//                         t[U + j, q] = sum over k in slot j of c_k sin(2 pi v_k q / I)
//   adjoint:  coef_grad[k] += sum_q r[slot_k, q] cos(2 pi v_k q / I) + r[U + slot_k, q] sin(...)
//   basis:    basis [O, 2U], basis[p, j] = scale cos(2 pi u_j p / O),
//                            basis[p, U + j] = -scale sin(2 pi u_j p / O)
// Every angle is 2 pi m / period with m = (v q) mod period exact in integers, its cosine and
// sine taken in double, as the CPU's table holds them.
//
// Stage 1 without atomics: one thread owns column q of t and adds the nonzeros in the CPU's
// order k = 0, 1, ..., n - 1, so the sums are the CPU's, run to run (I threads, each n terms).
// The adjoint gives one warp to each nonzero k (its lanes stride q, a shuffle reduction adds
// them), the basis one thread to each element.
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/sparse_idft2.h"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

template <typename T>
__global__ void sparse_idft_rows_kernel(const T* coef, const int64_t* slot, const int64_t* col,
                                        int64_t n, int64_t slots, int64_t in_features, T* t) {
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < in_features; q += int64_t(gridDim.x) * blockDim.x) {
    for (int64_t j = 0; j < 2 * slots; ++j) t[j * in_features + q] = T(0);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t m = col[k] * q % in_features;
      double s, c;
      sincos(kTwoPi * double(m) / double(in_features), &s, &c);
      const double value = double(coef[k]);
      t[slot[k] * in_features + q] += T(value * c);
      t[(slots + slot[k]) * in_features + q] += T(value * s);
    }
  }
}

// One warp per nonzero k.
template <typename T>
__global__ void sparse_idft_rows_adjoint_kernel(const T* r, const int64_t* slot, const int64_t* col,
                                                int64_t n, int64_t slots, int64_t in_features,
                                                T* coef_grad) {
  const int64_t k = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (k >= n) return;   // the whole warp leaves together
  const T* re = r + slot[k] * in_features;
  const T* im = r + (slots + slot[k]) * in_features;
  double total = 0;
  for (int64_t q = lane; q < in_features; q += kWarp) {
    const int64_t m = col[k] * q % in_features;
    double s, c;
    sincos(kTwoPi * double(m) / double(in_features), &s, &c);
    total += double(re[q]) * c + double(im[q]) * s;
  }
  total = warp_sum(total);
  if (lane == 0) coef_grad[k] += T(total);
}

template <typename T>
__global__ void idft_row_basis_kernel(const int64_t* rows, int64_t slots, int64_t out_features,
                                      double scale, T* basis) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < out_features * slots; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = e / slots, j = e % slots;
    const int64_t m = rows[j] * p % out_features;
    double s, c;
    sincos(kTwoPi * double(m) / double(out_features), &s, &c);
    basis[p * 2 * slots + j] = T(scale * c);
    basis[p * 2 * slots + slots + j] = T(-scale * s);
  }
}

}  // namespace

template <typename T>
void sparse_idft_rows(Cuda, const T* coef, const int64_t* slot, const int64_t* col, int64_t n,
                      int64_t slots, int64_t in_features, T* t) {
  if (in_features == 0 || slots == 0) return;
  sparse_idft_rows_kernel<<<blocks_for(in_features), kThreads, 0, stream()>>>(coef, slot, col, n, slots, in_features, t);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void sparse_idft_rows_adjoint(Cuda, const T* r, const int64_t* slot, const int64_t* col,
                              int64_t n, int64_t slots, int64_t in_features, T* coef_grad) {
  if (n == 0) return;
  sparse_idft_rows_adjoint_kernel<<<row_blocks(n), kRowsPerBlock * kWarp, 0, stream()>>>(r, slot, col, n, slots, in_features, coef_grad);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void idft_row_basis(Cuda, const int64_t* rows, int64_t slots, int64_t out_features, double scale,
                    T* basis) {
  if (slots == 0 || out_features == 0) return;
  idft_row_basis_kernel<<<blocks_for(out_features * slots), kThreads, 0, stream()>>>(rows, slots, out_features, scale, basis);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void sparse_idft_rows(Cuda, const float*, const int64_t*, const int64_t*, int64_t, int64_t, int64_t, float*);
template void sparse_idft_rows(Cuda, const double*, const int64_t*, const int64_t*, int64_t, int64_t, int64_t, double*);
template void sparse_idft_rows_adjoint(Cuda, const float*, const int64_t*, const int64_t*, int64_t, int64_t, int64_t, float*);
template void sparse_idft_rows_adjoint(Cuda, const double*, const int64_t*, const int64_t*, int64_t, int64_t, int64_t, double*);
template void idft_row_basis(Cuda, const int64_t*, int64_t, int64_t, double, float*);
template void idft_row_basis(Cuda, const int64_t*, int64_t, int64_t, double, double*);

}  // namespace neat::cuda
