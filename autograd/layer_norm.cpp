// Differentiable layer norm over the last dim: one fused node. It saves x, the weight and the
// per-row mean and rstd (not the normalised x: backward recomputes it in the same pass).
#include "autograd/nn_functional.h"
#include "tensor/layer_norm.h"

namespace neat {

namespace {
struct LayerNormNode : Node {
  Tensor x, weight, mean, rstd;  // weight undefined when the layer has none
  const char* name() const override { return "layer_norm"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { x = weight = mean = rstd = Tensor(); }
};
}  // namespace

Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps) {
  const Tensor w = weight.data_or_undefined();
  const Tensor b = bias.data_or_undefined();
  LayerNormForward f = layer_norm_forward(x.data(), w, b, eps);
  auto node = std::make_shared<LayerNormNode>();
  node->x = x.data();
  node->weight = w;
  node->mean = f.mean;
  node->rstd = f.rstd;
  return record(std::move(f.y), std::move(node), {x, weight, bias});
}

// forward: xhat = (x - mean) rstd, y = xhat w + b over the last dim D; x, y [rows, D]
//   dx = rstd (g - mean_D(g) - xhat mean_D(g xhat)) with g = dy w
//   dw = sum_rows dy xhat      db = sum_rows dy          (derivation: docs/layer_norm.md)
std::vector<Tensor> LayerNormNode::backward(const Tensor& grad) {
  LayerNormGrads g = layer_norm_backward(grad, x, weight, mean, rstd, needs_grad(0),
                                         needs_grad(1), needs_grad(2));
  return {g.x, g.weight, g.bias};
}

}  // namespace neat
