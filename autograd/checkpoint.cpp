#include "autograd/checkpoint.h"

#include "tensor/tensor.h"

namespace neat {

namespace {

struct CheckpointNode : Node {
  std::function<Variable(const Variable&)> f;
  Tensor x;                      // the block's input, the one activation kept
  std::vector<Variable> params;  // inputs 1.. of the node
  Generator* rng = nullptr;
  uint64_t rng_state = 0;        // rng's state when the forward ran f
  const char* name() const override { return "checkpoint"; }
  std::vector<Tensor> backward(const Tensor& grad_y) override;
  void release_saved() override {
    x = Tensor();
    params.clear();
    f = nullptr;
  }
};

}  // namespace

Variable checkpoint(const std::function<Variable(const Variable&)>& f, const Variable& x,
                    const std::vector<Variable>& params, Generator* rng) {
  std::vector<Variable> inputs{x};
  inputs.insert(inputs.end(), params.begin(), params.end());
  if (!any_requires_grad(inputs)) return f(x);
  auto node = std::make_shared<CheckpointNode>();
  node->rng = rng;
  node->rng_state = rng != nullptr ? rng->state() : 0;
  Tensor y;
  {
    NoGradGuard no_grad;
    y = f(x.detach()).data();
  }
  node->f = f;
  node->x = x.data();
  node->params = params;
  return record(std::move(y), node, inputs);
}

// Forward: y = f(x; params). Backward: the graph of f recomputed from the saved x (same values,
// same dropout draws), then the engine run on it from dL/dy: dL/dx lands in the recomputed
// leaf x', dL/dparams in the parameters' grad slots, which are emptied first and restored after,
// so that the gradients are returned to the outer engine and accumulate there as usual.
std::vector<Tensor> CheckpointNode::backward(const Tensor& grad_y) {
  EnableGradGuard grad_mode;
  const Variable x_again(x, needs_grad(0));
  std::vector<Tensor> kept(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    kept[i] = params[i].grad().defined() ? params[i].grad() : Tensor();
    params[i].zero_grad();
  }
  const uint64_t rng_after = rng != nullptr ? rng->state() : 0;
  if (rng != nullptr) rng->set_state(rng_state);
  const Variable y = f(x_again);
  if (rng != nullptr) rng->set_state(rng_after);
  if (y.requires_grad()) y.backward(grad_y);
  std::vector<Tensor> grads(1 + params.size());
  if (needs_grad(0)) grads[0] = x_again.grad().defined() ? x_again.grad() : zeros_like(x);
  for (size_t i = 0; i < params.size(); ++i) {
    Variable& p = params[i];
    if (needs_grad(1 + i)) grads[1 + i] = p.grad().defined() ? p.grad() : zeros_like(p.data());
    p.zero_grad();
    if (kept[i].defined()) p.mutable_grad() = kept[i];
  }
  return grads;
}

}  // namespace neat
