// Differentiable elementwise ops. Every op in autograd/ has the same three parts, in order:
// its Node (in an anonymous namespace: the tensors and settings its backward reads), the public
// function (runs the raw op from tensor/, saves what the needed gradients read, records the
// node) and the Node's backward under its math. Broadcast inputs get their gradient summed back
// to their own shape with sum_to.
#include "autograd/elementwise.h"

namespace neat {

// ---- add / sub / mul / div -----------------------------------------------------------------

namespace {
struct AddNode : Node {
  const char* name() const override { return "add"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable add(const Variable& a, const Variable& b) {
  return record(add(a.data(), b.data()), std::make_shared<AddNode>(), {a, b});
}

// y = a + b (broadcast):  da = sum_to(dy, a.shape),  db = sum_to(dy, b.shape)
std::vector<Tensor> AddNode::backward(const Tensor& dy) {
  std::vector<Tensor> grads(2);
  if (needs_grad(0)) grads[0] = sum_to(dy, input_shape(0));
  if (needs_grad(1)) grads[1] = sum_to(dy, input_shape(1));
  return grads;
}

namespace {
struct SubNode : Node {
  const char* name() const override { return "sub"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable sub(const Variable& a, const Variable& b) {
  return record(sub(a.data(), b.data()), std::make_shared<SubNode>(), {a, b});
}

// y = a - b (broadcast):  da = sum_to(dy, a.shape),  db = -sum_to(dy, b.shape)
std::vector<Tensor> SubNode::backward(const Tensor& dy) {
  std::vector<Tensor> grads(2);
  if (needs_grad(0)) grads[0] = sum_to(dy, input_shape(0));
  if (needs_grad(1)) grads[1] = neg(sum_to(dy, input_shape(1)));
  return grads;
}

namespace {
struct MulNode : Node {
  Tensor a;  // saved only when b needs a gradient
  Tensor b;  // saved only when a needs a gradient
  const char* name() const override { return "mul"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
  void release_saved() override { a = b = Tensor(); }
};
}  // namespace

Variable mul(const Variable& a, const Variable& b) {
  auto node = std::make_shared<MulNode>();
  if (b.requires_grad()) node->a = a.data();
  if (a.requires_grad()) node->b = b.data();
  return record(mul(a.data(), b.data()), std::move(node), {a, b});
}

// y = a * b (broadcast):  da = sum_to(dy * b, a.shape),  db = sum_to(dy * a, b.shape)
std::vector<Tensor> MulNode::backward(const Tensor& dy) {
  std::vector<Tensor> grads(2);
  if (needs_grad(0)) grads[0] = sum_to(mul(dy, b), input_shape(0));
  if (needs_grad(1)) grads[1] = sum_to(mul(dy, a), input_shape(1));
  return grads;
}

namespace {
struct DivNode : Node {
  Tensor a;  // saved only when b needs a gradient
  Tensor b;  // both gradients read it
  const char* name() const override { return "div"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
  void release_saved() override { a = b = Tensor(); }
};
}  // namespace

Variable div(const Variable& a, const Variable& b) {
  auto node = std::make_shared<DivNode>();
  if (b.requires_grad()) node->a = a.data();
  node->b = b.data();
  return record(div(a.data(), b.data()), std::move(node), {a, b});
}

// y = a / b (broadcast):  da = sum_to(dy / b, a.shape),
//                         db = -sum_to(dy a / b^2, b.shape) = -sum_to((dy / b)(a / b), b.shape)
std::vector<Tensor> DivNode::backward(const Tensor& dy) {
  const Tensor dy_over_b = div(dy, b);
  std::vector<Tensor> grads(2);
  if (needs_grad(0)) grads[0] = sum_to(dy_over_b, input_shape(0));
  if (needs_grad(1)) grads[1] = neg(sum_to(mul(dy_over_b, div(a, b)), input_shape(1)));
  return grads;
}

// ---- scalar variants -----------------------------------------------------------------------

namespace {
struct AddScalarNode : Node {
  const char* name() const override { return "add_scalar"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable add_scalar(const Variable& a, double s) {
  return record(add_scalar(a.data(), s), std::make_shared<AddScalarNode>(), {a});
}

// y = a + s:  da = dy
std::vector<Tensor> AddScalarNode::backward(const Tensor& dy) { return {dy}; }

namespace {
struct MulScalarNode : Node {
  double s = 1;
  const char* name() const override { return "mul_scalar"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable mul_scalar(const Variable& a, double s) {
  auto node = std::make_shared<MulScalarNode>();
  node->s = s;
  return record(mul_scalar(a.data(), s), std::move(node), {a});
}

// y = s a:  da = s dy
std::vector<Tensor> MulScalarNode::backward(const Tensor& dy) { return {mul_scalar(dy, s)}; }

namespace {
struct PowScalarNode : Node {
  double p = 1;
  Tensor a;
  const char* name() const override { return "pow_scalar"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
  void release_saved() override { a = Tensor(); }
};
}  // namespace

Variable pow_scalar(const Variable& a, double exponent) {
  auto node = std::make_shared<PowScalarNode>();
  node->p = exponent;
  node->a = a.data();
  return record(pow_scalar(a.data(), exponent), std::move(node), {a});
}

// y = a^p:  da = dy p a^(p-1)
std::vector<Tensor> PowScalarNode::backward(const Tensor& dy) {
  return {mul(dy, mul_scalar(pow_scalar(a, p - 1), p))};
}

// ---- unary functions -----------------------------------------------------------------------

namespace {
struct UnaryNode : Node {
  UnaryOp op = UnaryOp::Identity;
  Tensor x;  // saved for the ops whose derivative reads the input (relu, gelu, log, sin, ...)
  Tensor y;  // saved instead for those that read the output (exp, sqrt, tanh, sigmoid)
  const char* name() const override { return unary_op_name(op); }
  std::vector<Tensor> backward(const Tensor& dy) override;
  void release_saved() override { x = y = Tensor(); }
};
}  // namespace

Variable unary(UnaryOp op, const Variable& x) {
  Tensor y = unary(op, x.data());
  auto node = std::make_shared<UnaryNode>();
  node->op = op;
  if (unary_derivative_uses_output(op)) node->y = y;
  else node->x = x.data();
  return record(std::move(y), std::move(node), {x});
}

// y = f(x):  dx = dy f'(x), f' from tensor/scalar_math.h (read from y where that is cheaper)
std::vector<Tensor> UnaryNode::backward(const Tensor& dy) { return {unary_backward(op, dy, x, y)}; }

Variable neg(const Variable& x) { return unary(UnaryOp::Neg, x); }
Variable exp(const Variable& x) { return unary(UnaryOp::Exp, x); }
Variable log(const Variable& x) { return unary(UnaryOp::Log, x); }
Variable sqrt(const Variable& x) { return unary(UnaryOp::Sqrt, x); }
Variable tanh(const Variable& x) { return unary(UnaryOp::Tanh, x); }
Variable sigmoid(const Variable& x) { return unary(UnaryOp::Sigmoid, x); }
Variable relu(const Variable& x) { return unary(UnaryOp::Relu, x); }
Variable gelu(const Variable& x) { return unary(UnaryOp::Gelu, x); }
Variable sin(const Variable& x) { return unary(UnaryOp::Sin, x); }
Variable silu(const Variable& x) { return unary(UnaryOp::Silu, x); }

Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
Variable operator-(const Variable& a) { return neg(a); }
Variable operator+(const Variable& a, double s) { return add_scalar(a, s); }
Variable operator*(const Variable& a, double s) { return mul_scalar(a, s); }
Variable operator*(double s, const Variable& a) { return mul_scalar(a, s); }

}  // namespace neat
