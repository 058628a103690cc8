// Differentiable cross-entropy on integer labels: one fused node (log-softmax + NLL + mean).
// It saves the log-probabilities; the gradient is softmax minus the (smoothed) one-hot target.
// bfloat16 logits give a float32 loss (its gradient float32 too) and bfloat16 dlogits.
#include "autograd/nn_functional.h"
#include "tensor/cross_entropy.h"

namespace neat {

namespace {
struct CrossEntropyNode : Node {
  Tensor log_probs, labels;
  double label_smoothing = 0;
  DType logits_dtype = DType::Float32;   // bfloat16 logits keep float32 log_probs
  const char* name() const override { return "cross_entropy"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { log_probs = labels = Tensor(); }
};
}  // namespace

Variable cross_entropy(const Variable& logits, const Tensor& labels, double label_smoothing) {
  CrossEntropyForward f = cross_entropy_forward(logits.data(), labels, label_smoothing);
  auto node = std::make_shared<CrossEntropyNode>();
  node->log_probs = f.log_probs;
  node->labels = labels;
  node->label_smoothing = label_smoothing;
  node->logits_dtype = logits.dtype();
  return record(std::move(f.loss), std::move(node), {logits});
}

// forward: loss = -(1/N) sum_i sum_c t_ic log softmax(z_i)_c,  t = (1 - eps) onehot + eps / C
//   dz_ic = dloss / N (softmax(z_i)_c - t_ic)      z [N, C]  (docs/softmax_cross_entropy.md)
std::vector<Tensor> CrossEntropyNode::backward(const Tensor& grad) {
  return {cross_entropy_backward(grad, log_probs, labels, label_smoothing, logits_dtype)};
}

}  // namespace neat
