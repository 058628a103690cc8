// Differentiable elementwise ops. Each op is a Node whose static forward() runs the raw op from
// tensor/elementwise.h and records the node; its backward() sits right below, under the math.
// Broadcast inputs get their gradient summed back to their own shape with sum_to. Inputs are
// read back from `inputs` (the node keeps them anyway), so most nodes save nothing.
#include "autograd/elementwise.h"

namespace neat {
namespace {

// ---- add / sub / mul / div -----------------------------------------------------------------

struct Add : Node {
  const char* name() const override { return "add"; }
  static Variable forward(const Variable& a, const Variable& b) {
    return record(add(a.data(), b.data()), std::make_shared<Add>(), {a, b});
  }
  // y = a + b (broadcast):  da = sum_to(dy, a.shape),  db = sum_to(dy, b.shape)
  std::vector<Tensor> backward(const Tensor& dy) override {
    std::vector<Tensor> grads(2);
    if (needs_grad(0)) grads[0] = sum_to(dy, inputs[0].shape());
    if (needs_grad(1)) grads[1] = sum_to(dy, inputs[1].shape());
    return grads;
  }
};

struct Sub : Node {
  const char* name() const override { return "sub"; }
  static Variable forward(const Variable& a, const Variable& b) {
    return record(sub(a.data(), b.data()), std::make_shared<Sub>(), {a, b});
  }
  // y = a - b (broadcast):  da = sum_to(dy, a.shape),  db = -sum_to(dy, b.shape)
  std::vector<Tensor> backward(const Tensor& dy) override {
    std::vector<Tensor> grads(2);
    if (needs_grad(0)) grads[0] = sum_to(dy, inputs[0].shape());
    if (needs_grad(1)) grads[1] = neg(sum_to(dy, inputs[1].shape()));
    return grads;
  }
};

struct Mul : Node {
  const char* name() const override { return "mul"; }
  static Variable forward(const Variable& a, const Variable& b) {
    return record(mul(a.data(), b.data()), std::make_shared<Mul>(), {a, b});
  }
  // y = a * b (broadcast):  da = sum_to(dy * b, a.shape),  db = sum_to(dy * a, b.shape)
  std::vector<Tensor> backward(const Tensor& dy) override {
    const Tensor& a = inputs[0].data();
    const Tensor& b = inputs[1].data();
    std::vector<Tensor> grads(2);
    if (needs_grad(0)) grads[0] = sum_to(mul(dy, b), a.shape());
    if (needs_grad(1)) grads[1] = sum_to(mul(dy, a), b.shape());
    return grads;
  }
};

struct Div : Node {
  const char* name() const override { return "div"; }
  static Variable forward(const Variable& a, const Variable& b) {
    return record(div(a.data(), b.data()), std::make_shared<Div>(), {a, b});
  }
  // y = a / b (broadcast):  da = sum_to(dy / b, a.shape),
  //                         db = -sum_to(dy a / b^2, b.shape) = -sum_to((dy / b)(a / b), b.shape)
  std::vector<Tensor> backward(const Tensor& dy) override {
    const Tensor& a = inputs[0].data();
    const Tensor& b = inputs[1].data();
    const Tensor dy_over_b = div(dy, b);
    std::vector<Tensor> grads(2);
    if (needs_grad(0)) grads[0] = sum_to(dy_over_b, a.shape());
    if (needs_grad(1)) grads[1] = neg(sum_to(mul(dy_over_b, div(a, b)), b.shape()));
    return grads;
  }
};

// ---- scalar variants -----------------------------------------------------------------------

struct AddScalar : Node {
  const char* name() const override { return "add_scalar"; }
  static Variable forward(const Variable& a, double s) {
    return record(add_scalar(a.data(), s), std::make_shared<AddScalar>(), {a});
  }
  // y = a + s:  da = dy
  std::vector<Tensor> backward(const Tensor& dy) override {
    return {needs_grad(0) ? dy : Tensor()};
  }
};

struct MulScalar : Node {
  double s;
  explicit MulScalar(double s) : s(s) {}
  const char* name() const override { return "mul_scalar"; }
  static Variable forward(const Variable& a, double s) {
    return record(mul_scalar(a.data(), s), std::make_shared<MulScalar>(s), {a});
  }
  // y = s a:  da = s dy
  std::vector<Tensor> backward(const Tensor& dy) override {
    return {needs_grad(0) ? mul_scalar(dy, s) : Tensor()};
  }
};

struct PowScalar : Node {
  double p;
  explicit PowScalar(double p) : p(p) {}
  const char* name() const override { return "pow_scalar"; }
  static Variable forward(const Variable& a, double p) {
    return record(pow_scalar(a.data(), p), std::make_shared<PowScalar>(p), {a});
  }
  // y = a^p:  da = dy p a^(p-1)
  std::vector<Tensor> backward(const Tensor& dy) override {
    if (!needs_grad(0)) return {Tensor()};
    return {mul(dy, mul_scalar(pow_scalar(inputs[0].data(), p - 1), p))};
  }
};

// ---- unary functions -----------------------------------------------------------------------

struct Unary : Node {
  UnaryOp op;
  Tensor y;  // kept only for the ops whose derivative reads the output (exp, sqrt, tanh, sigmoid)
  explicit Unary(UnaryOp op) : op(op) {}
  const char* name() const override { return unary_op_name(op); }
  static Variable forward(UnaryOp op, const Variable& x) {
    Tensor y = unary(op, x.data());
    auto node = std::make_shared<Unary>(op);
    if (unary_derivative_uses_output(op)) node->y = y;
    return record(y, node, {x});
  }
  // y = f(x):  dx = dy f'(x), f' from tensor/scalar_math.h (read from y where that is cheaper)
  std::vector<Tensor> backward(const Tensor& dy) override {
    if (!needs_grad(0)) return {Tensor()};
    NEAT_CHECK(y.defined() || !unary_derivative_uses_output(op), name(),
               ": backward through a graph whose saved output was already freed by an earlier "
               "backward; run the forward again");
    return {unary_backward(op, dy, inputs[0].data(), y)};
  }
  void release_saved() override { y = Tensor(); }
};

}  // namespace

Variable add(const Variable& a, const Variable& b) { return Add::forward(a, b); }
Variable sub(const Variable& a, const Variable& b) { return Sub::forward(a, b); }
Variable mul(const Variable& a, const Variable& b) { return Mul::forward(a, b); }
Variable div(const Variable& a, const Variable& b) { return Div::forward(a, b); }
Variable add_scalar(const Variable& a, double s) { return AddScalar::forward(a, s); }
Variable mul_scalar(const Variable& a, double s) { return MulScalar::forward(a, s); }
Variable pow_scalar(const Variable& a, double exponent) { return PowScalar::forward(a, exponent); }

Variable unary(UnaryOp op, const Variable& x) { return Unary::forward(op, x); }
Variable neg(const Variable& x) { return unary(UnaryOp::Neg, x); }
Variable exp(const Variable& x) { return unary(UnaryOp::Exp, x); }
Variable log(const Variable& x) { return unary(UnaryOp::Log, x); }
Variable sqrt(const Variable& x) { return unary(UnaryOp::Sqrt, x); }
Variable tanh(const Variable& x) { return unary(UnaryOp::Tanh, x); }
Variable sigmoid(const Variable& x) { return unary(UnaryOp::Sigmoid, x); }
Variable relu(const Variable& x) { return unary(UnaryOp::Relu, x); }
Variable gelu(const Variable& x) { return unary(UnaryOp::Gelu, x); }
Variable sin(const Variable& x) { return unary(UnaryOp::Sin, x); }

Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
Variable operator-(const Variable& a) { return neg(a); }
Variable operator+(const Variable& a, double s) { return add_scalar(a, s); }
Variable operator*(const Variable& a, double s) { return mul_scalar(a, s); }
Variable operator*(double s, const Variable& a) { return mul_scalar(a, s); }

}  // namespace neat
