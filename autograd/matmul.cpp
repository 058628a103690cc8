// Differentiable matmul and linear. Each backward computes only the gradients its inputs need,
// and each forward saves only what those gradients read: a frozen weight (requires_grad false)
// costs no weight-gradient GEMM, and the node keeps no reference to the input x (the node holds
// edges, not inputs), so x's activations are freed as soon as the forward is done with them.
#include "autograd/matmul.h"

#include "tensor/elementwise.h"

namespace neat {

namespace {

// The number of matrices in a tensor's batch dims (all dims but the last two).
int64_t batch_count(const Shape& shape) {
  return shape_numel(Shape(shape.begin(), shape.end() - 2));
}

}  // namespace

// ---- matmul --------------------------------------------------------------------------------

namespace {
struct MatmulNode : Node {
  bool trans_a = false, trans_b = false;
  Tensor a, b;  // a is saved only when b needs a gradient, b only when a does
  const char* name() const override { return "matmul"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { a = b = Tensor(); }
};
}  // namespace

Variable matmul(const Variable& a, const Variable& b, bool trans_a, bool trans_b) {
  Tensor c = matmul(a.data(), b.data(), trans_a, trans_b);
  auto node = std::make_shared<MatmulNode>();
  node->trans_a = trans_a;
  node->trans_b = trans_b;
  if (b.requires_grad()) node->a = a.data();
  if (a.requires_grad()) node->b = b.data();
  return record(std::move(c), std::move(node), {a, b});
}

// forward: c = op_a(a) op_b(b), op = transpose where the flag is set; c [.., M, N]
//   d op_a(a) = dc op_b(b)^T  [M, K]      d op_b(b) = op_a(a)^T dc  [K, N]
// A transposed operand gets the transpose of that; broadcast batch dims are summed back.
std::vector<Tensor> MatmulNode::backward(const Tensor& grad) {
  const Shape& a_shape = input_shape(0);
  const Shape& b_shape = input_shape(1);
  Tensor grad_a, grad_b;
  if (needs_grad(0)) {
    grad_a = trans_a ? matmul(b, grad, trans_b, true)     // (dc op_b(b)^T)^T = op_b(b) dc^T
                     : matmul(grad, b, false, !trans_b);  // dc op_b(b)^T
    grad_a = sum_to(grad_a, a_shape);
  }
  if (needs_grad(1)) {
    if (!trans_a && batch_count(b_shape) == 1) {
      // One b for the whole batch: fold a's batch into rows, so the sum over the batch is
      // part of ONE GEMM, a2^T dc2 with a2 [rows, K], dc2 [rows, N] (Linear's weight gradient).
      const int64_t K = a_shape.back(), N = grad.shape().back();
      Tensor a2 = a.reshape({-1, K}), grad2 = grad.reshape({-1, N});
      grad_b = trans_b ? matmul(grad2, a2, true, false)   // dc^T a  [N, K]
                       : matmul(a2, grad2, true, false);  // a^T dc  [K, N]
      grad_b = grad_b.reshape(b_shape);
    } else {
      grad_b = trans_b ? matmul(grad, a, true, trans_a)    // (op_a(a)^T dc)^T = dc^T op_a(a)
                       : matmul(a, grad, !trans_a, false);  // op_a(a)^T dc
      grad_b = sum_to(grad_b, b_shape);
    }
  }
  return {grad_a, grad_b};
}

// ---- linear --------------------------------------------------------------------------------

namespace {

// What every linear node (linear, linear_add, linear_gelu) keeps for its backward, each saved
// only when a gradient needs it, and the gradients of x, W and b from dy:
//   forward: y = x W^T + b   x [rows, IN], W [OUT, IN], b [OUT], y [rows, OUT]
//   dx = dy W  [rows, IN]      dW = dy^T x  [OUT, IN]      db = sum over rows of dy  [OUT]
struct LinearBase : Node {
  Tensor x2;      // x as [rows, IN]: read by dW
  Tensor weight;  // [OUT, IN]: read by dx
  void save(const Variable& x, const Variable& w, const Tensor& x_rows) {
    if (w.requires_grad()) x2 = x_rows;
    if (x.requires_grad()) weight = w.data();
  }
  void release_saved() override { x2 = weight = Tensor(); }
  // grad2 is dy as [rows, OUT]; the gradients of inputs 0-2 (x, W, b) this node needs.
  std::vector<Tensor> linear_backward(const Tensor& grad2) const {
    Tensor grad_x, grad_w, grad_b;
    if (needs_grad(0)) grad_x = matmul(grad2, weight, false, false).reshape(input_shape(0));
    // dW's GEMM sums db too where it needs it (cuBLASLt's BGRADB epilogue on CUDA).
    if (needs_grad(1)) grad_w = linear_weight_grad(grad2, x2, needs_grad(2) ? &grad_b : nullptr);
    else if (needs_grad(2)) grad_b = sum_to(grad2, {grad2.size(1)});
    return {grad_x, grad_w, grad_b};
  }
};

struct LinearNode : LinearBase {
  bool residual = false;  // linear_add: a fourth input, the residual, added to y
  const char* name() const override { return residual ? "linear_add" : "linear"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
};

struct LinearGeluNode : LinearBase {
  Tensor z;  // x W^T + b [rows, OUT], GELU's input
  const char* name() const override { return "linear_gelu"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override {
    LinearBase::release_saved();
    z = Tensor();
  }
};

// A linear's operands after the checks every linear op shares (op names which: weight
// [OUT, IN], x [.., IN], bias [OUT] or undefined, one dtype): x as x2 [rows, IN] (every leading
// dim folds into one GEMM) and the output's shape y_shape [.., OUT].
struct LinearOperands {
  Tensor x2;
  Shape y_shape;
};

LinearOperands linear_operands(const Variable& x, const Variable& weight, const Variable& bias,
                               const char* op) {
  const Tensor& w = weight.data();
  NEAT_CHECK(w.dim() == 2, op, ": weight ", shape_str(w.shape()), " must be [OUT, IN]");
  NEAT_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), op, ": input ", shape_str(x.shape()),
             " and weight ", shape_str(w.shape()), ": in_features ",
             x.dim() >= 1 ? x.size(-1) : 0, " and ", w.size(1), " differ");
  check_same_dtype(x.data(), w, op);
  if (bias.defined())
    NEAT_CHECK(bias.shape() == Shape{w.size(0)}, op, ": bias ", shape_str(bias.shape()),
               " does not match weight ", shape_str(w.shape()), " (want [", w.size(0), "])");
  Shape y_shape = x.shape();
  y_shape.back() = w.size(0);
  return {x.data().reshape({-1, w.size(1)}), y_shape};
}

}  // namespace

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  const LinearOperands in = linear_operands(x, weight, bias, "linear");
  Tensor y = linear_forward(in.x2, weight.data(), bias.data_or_undefined());  // [rows, OUT]
  auto node = std::make_shared<LinearNode>();
  node->save(x, weight, in.x2);
  return record(y.reshape(in.y_shape), std::move(node), {x, weight, bias});
}

Variable linear_add(const Variable& x, const Variable& weight, const Variable& bias,
                    const Variable& residual) {
  const LinearOperands in = linear_operands(x, weight, bias, "linear_add");
  NEAT_CHECK(residual.defined(), "linear_add: the residual is undefined (want ",
             shape_str(in.y_shape), ")");
  NEAT_CHECK(residual.shape() == in.y_shape, "linear_add: residual ",
             shape_str(residual.shape()), " is not the shape of linear's output ",
             shape_str(in.y_shape), " (input ", shape_str(x.shape()), ", weight ",
             shape_str(weight.shape()), ")");
  check_same_dtype(x.data(), residual.data(), "linear_add");
  Tensor y = linear_add_forward(in.x2, weight.data(), bias.data_or_undefined(),
                                residual.data().reshape({-1, weight.size(0)}));  // [rows, OUT]
  auto node = std::make_shared<LinearNode>();
  node->residual = true;
  node->save(x, weight, in.x2);
  return record(y.reshape(in.y_shape), std::move(node), {x, weight, bias, residual});
}

// linear_add: y = x W^T + b + r, so dr = dy (the gradient itself, shared: the engine copies or
// sums it where it must), the rest as linear's.
std::vector<Tensor> LinearNode::backward(const Tensor& grad) {
  std::vector<Tensor> grads = linear_backward(grad.reshape({-1, grad.shape().back()}));
  if (residual) grads.push_back(needs_grad(3) ? grad : Tensor());
  return grads;
}

// ---- linear followed by GELU -------------------------------------------------------------

Variable linear_gelu(const Variable& x, const Variable& weight, const Variable& bias) {
  const LinearOperands in = linear_operands(x, weight, bias, "linear_gelu");
  const bool grad = x.requires_grad() || weight.requires_grad() ||
                    (bias.defined() && bias.requires_grad());
  // GELU in the GEMM's store (tensor/matmul.h); training keeps z for the backward, written in
  // the same store. (Measured: computing gelu'(z) there as well, for the backward, cost more
  // than the pass it saved; docs/performance.md.)
  if (!grad)  // evaluation, a frozen MLP
    return Variable(
        linear_gelu_forward(in.x2, weight.data(), bias.data_or_undefined()).reshape(in.y_shape));
  auto node = std::make_shared<LinearGeluNode>();
  Tensor y = linear_gelu_forward(in.x2, weight.data(), bias.data_or_undefined(),
                                 &node->z);  // z [rows, OUT]
  node->save(x, weight, in.x2);
  return record(y.reshape(in.y_shape), std::move(node), {x, weight, bias});
}

// forward: y = gelu(z), z = x W^T + b.  dz = dy gelu'(z), then z's gradients as a linear's.
std::vector<Tensor> LinearGeluNode::backward(const Tensor& grad) {
  return linear_backward(
      unary_backward(UnaryOp::Gelu, grad.reshape({-1, grad.shape().back()}), z, Tensor()));
}

}  // namespace neat
