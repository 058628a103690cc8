// Differentiable inverted dropout: y = x * mask, mask drawn from the caller's generator.
// It saves only the mask.
#include "autograd/nn_functional.h"
#include "tensor/dropout.h"
#include "tensor/elementwise.h"

namespace neat {

namespace {
struct DropoutNode : Node {
  Tensor mask;
  const char* name() const override { return "dropout"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { mask = Tensor(); }
};
}  // namespace

Variable dropout(const Variable& x, double p, bool training, Generator& gen) {
  NEAT_CHECK(p >= 0 && p <= 1, "dropout: probability ", p, " must be in [0, 1]");
  if (!training || p == 0) return x;
  auto node = std::make_shared<DropoutNode>();
  node->mask = dropout_mask(x.shape(), p, gen, x.dtype());
  Tensor y = mul(x.data(), node->mask);
  return record(std::move(y), std::move(node), {x});
}

// forward: y = x * mask, mask_i in {0, 1 / (1 - p)}      x, mask, y [any shape]
//   dx = dy * mask
std::vector<Tensor> DropoutNode::backward(const Tensor& grad) { return {mul(grad, mask)}; }

}  // namespace neat
