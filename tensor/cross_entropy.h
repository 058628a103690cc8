// Cross-entropy on integer labels: fused log-softmax + NLL, mean over the batch, with optional
// label smoothing exactly as torch.nn.functional.cross_entropy(label_smoothing=eps):
//   loss_i = (1 - eps) * (-log p[i, y_i]) + eps * mean_c(-log p[i, c])
#pragma once
#include "tensor/tensor.h"

namespace neat {

// bfloat16 logits: the log-softmax, the loss and the saved log-probabilities are float32
// (math_dtype), as PyTorch's autocast runs the loss in float32, and the backward's dlogits is
// bfloat16 again, from the float32 gradient of the loss.
struct CrossEntropyForward {
  Tensor loss;       // 0-d, math_dtype(logits)
  Tensor log_probs;  // [N, C], math_dtype(logits), kept for backward
};
// logits [N, C] float, labels [N] int64 in [0, C).
CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                          double label_smoothing = 0.0);
// dlogits = grad_loss / N * (softmax - target), target = (1-eps) onehot + eps / C, in
// logits_dtype: log_probs' own dtype, or bfloat16 for float32 log_probs (of bfloat16 logits).
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& log_probs,
                              const Tensor& labels, double label_smoothing, DType logits_dtype);
// The same with dlogits in log_probs' dtype.
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& log_probs,
                              const Tensor& labels, double label_smoothing);

}  // namespace neat
