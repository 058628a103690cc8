// CUDA kernels of cross-entropy on integer labels (tensor/cuda/cross_entropy.h), the math of
// tensor/cpu/cross_entropy.h, from the log-probabilities (derivation:
// docs/softmax_cross_entropy.md):
//   target_ic = (1 - eps) onehot(y_i) + eps / C                 (eps = label smoothing)
//   forward:   loss = (1/N) sum_i [(1 - eps)(-lp_{i,y_i}) + eps mean_c(-lp_ic)]
//   backward:  dlogits_ic = grad_loss / N (exp(lp_ic) - target_ic)
// Both first check the labels as index_select checks its indices (record_out_of_range, from
// tensor/cuda/device_errors.h, as the CPU's from tensor/cpu/device_errors.h) and then do
// nothing when the error record holds a failure (this one, or an unread earlier one: the
// results are thrown away with the error either way) but set the loss to NaN, so a training
// loop that reads the loss stops at that step and reads the record (train/trainer.cpp). Both
// compute in T (float32 for float32 log-probabilities, double for float64). The forward's loss
// is one block: a warp per row (each lane's strided partial sum, then the warp's shuffle tree),
// each warp's rows added in order, the warps' totals by block_sum: an order fixed by the sizes,
// the same bits on every run. The backward is one thread per element; for bfloat16 logits it
// reads the float32 log-probabilities and writes bfloat16 dlogits (tensor/cross_entropy.h).
#include <cmath>

#include "tensor/cuda/cross_entropy.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/device_errors.h"
#include "tensor/cuda/warp_reduce.cuh"
#include "tensor/half.h"

namespace neat::cuda {

namespace {

// Threads of the loss kernel, one block (32 warps).
constexpr int kBlockThreads = 1024;

template <typename T>
__global__ void forward_loss(const T* log_probs, const int64_t* labels, T* loss,
                             ErrorSlot check, int64_t N, int64_t C, double eps) {
  if (error_recorded(check)) {   // the same for every thread: the block leaves together
    if (threadIdx.x == 0) *loss = T(::nan(""));   // a loss that no one mistakes for one
    return;
  }
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  const T e = T(eps);
  T total = 0;  // this warp's rows, in lane 0
  for (int64_t i = warp; i < N; i += warps) {
    const T* row = log_probs + i * C;
    T sum = 0;
    if (eps != 0)
      for (int64_t c = lane; c < C; c += kWarp) sum += row[c];
    sum = warp_sum(sum);
    if (lane == 0) total += -(1 - e) * row[labels[i]] - e * sum / T(C);
  }
  total = block_sum(total);
  if (threadIdx.x == 0) *loss = total / T(N);
}

template <typename T, typename D>
__global__ void backward_elements(const T* grad_loss, const T* log_probs, const int64_t* labels,
                                  D* dlogits, ErrorSlot check, int64_t N, int64_t C, T on,
                                  T off) {
  if (error_recorded(check)) return;
  const T scale = *grad_loss / T(N);
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < N * C; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k / C, c = k % C;
    dlogits[k] = D(scale * (exp(log_probs[k]) - (c == labels[i] ? on : off)));
  }
}

}  // namespace

template <typename T>
void cross_entropy_forward(Cuda, const T* log_probs, const int64_t* labels, T* loss,
                           ErrorSlot check, int64_t N, int64_t C, double eps) {
  record_out_of_range(Cuda{}, labels, N, C, check);
  forward_loss<<<1, kBlockThreads, 0, stream()>>>(log_probs, labels, loss, check, N, C, eps);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T, typename D>
void cross_entropy_backward(Cuda, const T* grad_loss, const T* log_probs, const int64_t* labels,
                            D* dlogits, ErrorSlot check, int64_t N, int64_t C, double eps) {
  record_out_of_range(Cuda{}, labels, N, C, check);
  if (N * C == 0) return;
  const double off = eps / double(C), on = 1 - eps + off;
  backward_elements<<<blocks_for(N * C), kThreads, 0, stream()>>>(grad_loss, log_probs, labels,
                                                                  dlogits, check, N, C, T(on),
                                                                  T(off));
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void cross_entropy_forward(Cuda, const float*, const int64_t*, float*, ErrorSlot, int64_t,
                                    int64_t, double);
template void cross_entropy_forward(Cuda, const double*, const int64_t*, double*, ErrorSlot,
                                    int64_t, int64_t, double);
template void cross_entropy_backward(Cuda, const float*, const float*, const int64_t*, float*,
                                     ErrorSlot, int64_t, int64_t, double);
template void cross_entropy_backward(Cuda, const double*, const double*, const int64_t*, double*,
                                     ErrorSlot, int64_t, int64_t, double);
template void cross_entropy_backward(Cuda, const float*, const float*, const int64_t*, bfloat16*,
                                     ErrorSlot, int64_t, int64_t, double);

}  // namespace neat::cuda
