#include "autograd/variable.h"

#include "tensor/elementwise.h"
#include "tensor/profile.h"

namespace neat {

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
  NEAT_CHECK(data.defined(), "Variable: constructed from an undefined tensor");
  NEAT_CHECK(!requires_grad || is_floating(data.dtype()),
             "Variable: only floating tensors can require grad, got ", dtype_name(data.dtype()));
  impl_->data = std::move(data);
  impl_->requires_grad = requires_grad;
}

const Tensor& Variable::data() const {
  NEAT_CHECK(impl_, "Variable: used while undefined");
  return impl_->data;
}

void Variable::set_data(const Tensor& data) {
  NEAT_CHECK(impl_, "Variable: set_data on an undefined variable");
  impl_->data = data;
}

const Tensor& Variable::grad() const {
  NEAT_CHECK(impl_, "Variable: grad of an undefined variable");
  return impl_->grad;
}

Tensor& Variable::mutable_grad() {
  NEAT_CHECK(impl_, "Variable: grad of an undefined variable");
  return impl_->grad;
}

void Variable::set_requires_grad(bool requires_grad) {
  NEAT_CHECK(impl_, "Variable: set_requires_grad on an undefined variable");
  NEAT_CHECK(is_leaf(), "set_requires_grad: only leaves can change requires_grad");
  NEAT_CHECK(!requires_grad || is_floating(impl_->data.dtype()),
             "set_requires_grad: only floating tensors can require grad");
  impl_->requires_grad = requires_grad;
}

const std::shared_ptr<Node>& Variable::grad_fn() const {
  NEAT_CHECK(impl_, "Variable: grad_fn of an undefined variable");
  return impl_->grad_fn;
}

void Variable::zero_grad() {
  if (impl_) impl_->grad = Tensor();
}

Variable Variable::detach() const { return Variable(data(), false); }

// Per thread, like PyTorch: a NoGradGuard in one thread does not switch off recording in another.
static thread_local bool grad_mode = true;
bool grad_mode_enabled() { return grad_mode; }
NoGradGuard::NoGradGuard() : previous_(grad_mode) { grad_mode = false; }
NoGradGuard::~NoGradGuard() { grad_mode = previous_; }
EnableGradGuard::EnableGradGuard() : previous_(grad_mode) { grad_mode = true; }
EnableGradGuard::~EnableGradGuard() { grad_mode = previous_; }

bool any_requires_grad(const std::vector<Variable>& inputs) {
  if (!grad_mode) return false;
  for (const Variable& v : inputs)
    if (v.requires_grad()) return true;
  return false;
}

Variable record(Tensor output, std::shared_ptr<Node> node, const std::vector<Variable>& inputs) {
  const char* op = node->name();
  Variable result(std::move(output));
  if (any_requires_grad(inputs)) {
    node->edges.reserve(inputs.size());
    for (const Variable& input : inputs) {
      Edge edge;
      if (input.defined()) {
        edge.requires_grad = input.requires_grad();
        if (edge.requires_grad && input.is_leaf()) edge.leaf = input.impl_;
        else edge.grad_fn = input.grad_fn();
        edge.shape = input.shape();
        edge.dtype = input.dtype();
        edge.device = input.device();
      }
      node->edges.push_back(std::move(edge));
    }
    result.impl_->requires_grad = true;
    result.impl_->grad_fn = std::move(node);
  }
  profile_forward_op(op);
  return result;
}

void accumulate_grad(Tensor& slot, const Tensor& grad) {
  if (!slot.defined()) slot = grad.clone();
  else add_(slot, grad);
}

}  // namespace neat
