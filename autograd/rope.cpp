// Differentiable rotary position embedding on packed heads (tensor/rope.h). The rotation is
// linear in x and orthogonal, so its backward is the inverse rotation of the gradient; nothing
// but the positions and frequencies is saved.
#include "autograd/nn_functional.h"
#include "tensor/rope.h"

namespace neat {

namespace {
struct RopeNode : Node {
  Tensor position_ids, inv_freq;
  int64_t heads = 1;
  const char* name() const override { return "rope"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { position_ids = inv_freq = Tensor(); }
};
}  // namespace

Variable rope(const Variable& x, const Tensor& position_ids, const Tensor& inv_freq,
              int64_t heads) {
  Tensor y = rope(x.data(), position_ids, inv_freq, heads);
  auto node = std::make_shared<RopeNode>();
  node->position_ids = position_ids;
  node->inv_freq = inv_freq;
  node->heads = heads;
  return record(std::move(y), std::move(node), {x});
}

// forward, per head and pair (x1, x2) = (x[i], x[i + hd/2]):  y = R(a_i) x,
//   R(a) = [[cos a, -sin a], [sin a, cos a]]
//   dx = R(a_i)^T dy = R(-a_i) dy       (the rotation by -a_i: rope(..., inverse = true))
std::vector<Tensor> RopeNode::backward(const Tensor& grad) {
  return {rope(grad, position_ids, inv_freq, heads, /*inverse=*/true)};
}

}  // namespace neat
