// Cross-entropy on integer labels: fused log-softmax + NLL, mean over the batch, with optional
// label smoothing exactly as torch.nn.functional.cross_entropy(label_smoothing=eps):
//   loss_i = (1 - eps) * (-log p[i, y_i]) + eps * mean_c(-log p[i, c])
#pragma once
#include "tensor/tensor.h"

namespace neat {

struct CrossEntropyForward {
  Tensor loss;       // 0-d
  Tensor log_probs;  // [N, C], kept for backward
};
// logits [N, C] float, labels [N] int64 in [0, C).
CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                          double label_smoothing = 0.0);
// dlogits = grad_loss / N * (softmax - target), target = (1-eps) onehot + eps / C.
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& log_probs,
                              const Tensor& labels, double label_smoothing);

}  // namespace neat
