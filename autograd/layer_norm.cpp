// Differentiable layer norm over the last dim: one fused node. It saves x, the weight and the
// per-row mean and rstd (not the normalised x: backward recomputes it in the same pass).
// add_layer_norm runs the residual add and the layer norm as one forward kernel and records the
// graph of the two plain ops: h = x + residual (a node that passes dh to both), then the layer
// norm node on h. A node has one output, and h has two users (this layer norm and the next
// residual add), so the engine sums their gradients into dh, as it does for the plain ops: the
// same gradients, the same bits.
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

struct ResidualSumNode : Node {
  const char* name() const override { return "add_layer_norm sum"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
};

Variable record_layer_norm(const Variable& x, LayerNormForward f, const Tensor& w,
                           const Variable& weight, const Variable& bias) {
  auto node = std::make_shared<LayerNormNode>();
  node->x = x.data();
  node->weight = w;
  node->mean = std::move(f.mean);
  node->rstd = std::move(f.rstd);
  return record(std::move(f.y), std::move(node), {x, weight, bias});
}

}  // namespace

Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps) {
  const Tensor w = weight.data_or_undefined();
  return record_layer_norm(x, layer_norm_forward(x.data(), w, bias.data_or_undefined(), eps), w,
                           weight, bias);
}

AddLayerNorm add_layer_norm(const Variable& x, const Variable& residual, const Variable& weight,
                            const Variable& bias, double eps) {
  const Tensor w = weight.data_or_undefined();
  AddLayerNormForward f =
      add_layer_norm_forward(x.data(), residual.data(), w, bias.data_or_undefined(), eps);
  Variable h = record(std::move(f.h), std::make_shared<ResidualSumNode>(), {x, residual});
  Variable y = record_layer_norm(h, {std::move(f.y), std::move(f.mean), std::move(f.rstd)}, w,
                                 weight, bias);
  return {std::move(h), std::move(y)};
}

// forward: h = x + residual (the same shape):  dx = dresidual = dh
std::vector<Tensor> ResidualSumNode::backward(const Tensor& grad) {
  return {needs_grad(0) ? grad : Tensor(), needs_grad(1) ? grad : Tensor()};
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
