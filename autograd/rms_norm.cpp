// Differentiable RMS norm over the last dim: one fused node. It saves x, the weight and the
// per-row rstd (not the normalised x: backward recomputes it in the same pass).
#include "autograd/nn_functional.h"
#include "tensor/rms_norm.h"

namespace neat {

namespace {
struct RmsNormNode : Node {
  Tensor x, weight, rstd;
  const char* name() const override { return "rms_norm"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { x = weight = rstd = Tensor(); }
};
}  // namespace

Variable rms_norm(const Variable& x, const Variable& weight, double eps) {
  RmsNormForward f = rms_norm_forward(x.data(), weight.data(), eps);
  auto node = std::make_shared<RmsNormNode>();
  node->x = x.data();
  node->weight = weight.data();
  node->rstd = f.rstd;
  return record(std::move(f.y), std::move(node), {x, weight});
}

// forward: xhat = x rstd, rstd = 1 / sqrt(mean_D(x^2) + eps), y = xhat w; x, y [rows, D]
//   dx = rstd (g - xhat mean_D(g xhat)) with g = dy w
//   dw = sum_rows dy xhat                                  (derivation: docs/llama.md)
std::vector<Tensor> RmsNormNode::backward(const Tensor& grad) {
  RmsNormGrads g = rms_norm_backward(grad, x, weight, rstd, needs_grad(0), needs_grad(1));
  return {g.x, g.weight};
}

}  // namespace neat
