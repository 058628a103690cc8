// CPU kernels of cross-entropy on integer labels, from the log-probabilities (log_softmax of the
// logits, computed by tensor/cpu/softmax.h). Derivation: docs/softmax_cross_entropy.md.
//
//   log_probs, dlogits [N, C]; labels [N] int64; loss, grad_loss 0-d
//   target_ic = (1 - eps) onehot(y_i) + eps / C                 (eps = label smoothing)
//   forward:   loss = (1/N) sum_i [(1 - eps)(-lp_{i,y_i}) + eps mean_c(-lp_ic)]
//   backward:  dlogits_ic = grad_loss / N (exp(lp_ic) - target_ic)
// Both first check the labels: the first one outside [0, C) goes to the error record
// (tensor/cpu/device_errors.h) and the op does nothing; the raw op names the bad label.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/cpu/device.h"
#include "tensor/cpu/device_errors.h"

namespace neat::cpu {

template <typename T>
void cross_entropy_forward(Cpu, const T* log_probs, const int64_t* labels, T* loss,
                           ErrorSlot check, int64_t N, int64_t C, double eps) {
  if (record_out_of_range(Cpu{}, labels, N, C, check)) return;
  std::vector<double> row_loss(static_cast<size_t>(N));
#pragma omp parallel for schedule(static) if (N * C >= kParallelThreshold)
  for (int64_t i = 0; i < N; ++i) {
    const T* row = log_probs + i * C;
    double sum = 0;
    if (eps != 0)
      for (int64_t c = 0; c < C; ++c) sum += row[c];
    row_loss[size_t(i)] = -(1 - eps) * row[labels[i]] - eps * sum / double(C);
  }
  double total = 0;
  for (double l : row_loss) total += l;  // in row order: the same bits on any thread count
  *loss = T(total / double(N));
}

// dlogits of type D: T, or bfloat16 for T = float (rounded once from the double product).
template <typename T, typename D>
void cross_entropy_backward(Cpu, const T* grad_loss, const T* log_probs, const int64_t* labels,
                            D* dlogits, ErrorSlot check, int64_t N, int64_t C, double eps) {
  if (record_out_of_range(Cpu{}, labels, N, C, check)) return;
  const double scale = double(*grad_loss) / double(N);
  const double off = eps / double(C), on = 1 - eps + off;
#pragma omp parallel for schedule(static) if (N * C >= kParallelThreshold)
  for (int64_t i = 0; i < N; ++i) {
    const T* row = log_probs + i * C;
    D* d = dlogits + i * C;
    for (int64_t c = 0; c < C; ++c)
      d[c] = D(scale * (std::exp(double(row[c])) - (c == labels[i] ? on : off)));
  }
}

}  // namespace neat::cpu
