// Elementwise raw ops: shape and dtype checks, output allocation, then one kernel call that
// names the op by its enum (tensor/elementwise_ops.h maps it to the scalar function of
// tensor/scalar_math.h): tensor/cpu/elementwise.h, tensor/cuda/elementwise.h.
#include "tensor/elementwise.h"

#include <algorithm>

#include "tensor/cpu/elementwise.h"
#include "tensor/cuda/elementwise.h"
#include "tensor/dispatch.h"
#include "tensor/reduce.h"

namespace neat {

// ---- unary ops ---------------------------------------------------------------------------

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::Gelu: return "gelu";
    case UnaryOp::Sin: return "sin";
    case UnaryOp::Sin2Pi: return "sin2pi";
    case UnaryOp::Silu: return "silu";
    case UnaryOp::Identity: return "identity";
  }
  return "?";
}

// y = f(x); float32, float64 and bfloat16 (computed in float32, rounded once).
Tensor unary(UnaryOp op, const Tensor& x) {
  Tensor y(x.shape(), x.dtype(), x.device());
  dispatch_with_bf16(x, unary_op_name(op), [&](auto dev, auto zero) {
    using T = decltype(zero);
    unary_forward(dev, op, y.data<T>(), x.data<T>(), x.numel());
  });
  return y;
}

// dx = dy * f'(v), with v = y for the ops where the derivative is cheaper from the output, else x.
Tensor unary_backward(UnaryOp op, const Tensor& grad_y, const Tensor& x, const Tensor& y) {
  const char* name = unary_op_name(op);
  const bool from_output = unary_derivative_uses_output(op);
  const Tensor& v = from_output ? y : x;
  NEAT_CHECK(v.defined(), name, " backward: needs the ", from_output ? "output y" : "input x");
  NEAT_CHECK(grad_y.shape() == v.shape(), name, " backward: gradient ", shape_str(grad_y.shape()),
             " for a value of shape ", shape_str(v.shape()));
  check_same_dtype(grad_y, v, name);
  Tensor dx(v.shape(), v.dtype(), v.device());
  dispatch_with_bf16({v, grad_y}, name, [&](auto dev, auto zero) {
    using T = decltype(zero);
    unary_backward(dev, op, dx.data<T>(), grad_y.data<T>(), v.data<T>(), v.numel());
  });
  return dx;
}

Tensor neg(const Tensor& x) { return unary(UnaryOp::Neg, x); }
Tensor exp(const Tensor& x) { return unary(UnaryOp::Exp, x); }
Tensor log(const Tensor& x) { return unary(UnaryOp::Log, x); }
Tensor sqrt(const Tensor& x) { return unary(UnaryOp::Sqrt, x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, x); }
Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, x); }
Tensor gelu(const Tensor& x) { return unary(UnaryOp::Gelu, x); }
Tensor sin(const Tensor& x) { return unary(UnaryOp::Sin, x); }
Tensor silu(const Tensor& x) { return unary(UnaryOp::Silu, x); }

// ---- broadcasting --------------------------------------------------------------------------

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Right-aligned: missing leading dims count as 1.
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    NEAT_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
               " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// A broadcast loop's layout (see tensor/cpu/elementwise.h, tensor/cuda/elementwise.cu): the
// output sizes and, per operand, its element strides, with 0 along broadcast dims. Size-1 dims
// are dropped and neighbouring dims merged wherever every operand steps through them as through
// one dim, so [B, N, D] + [D] runs as rows of a [B*N, D] output and [B, N, D] * [B, N, 1] as
// [B*N, D].
struct BroadcastLayout {
  std::vector<int64_t> shape;
  std::vector<std::vector<int64_t>> strides;  // one per operand
};

static std::vector<int64_t> strides_in(const Shape& in, const Shape& out) {
  std::vector<int64_t> stride(out.size(), 0);
  int64_t step = 1;
  for (size_t i = in.size(), o = out.size(); i-- > 0;) {
    --o;
    stride[o] = in[i] == 1 ? 0 : step;
    step *= in[i];
  }
  return stride;
}

static BroadcastLayout broadcast_layout(const Shape& out, const std::vector<Shape>& operands) {
  std::vector<std::vector<int64_t>> full;
  for (const Shape& s : operands) full.push_back(strides_in(s, out));
  BroadcastLayout layout;
  layout.strides.resize(operands.size());
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    bool merge = !layout.shape.empty();
    for (size_t k = 0; k < full.size() && merge; ++k)
      merge = layout.strides[k].back() == full[k][d] * out[d];
    if (merge) {
      layout.shape.back() *= out[d];
      for (size_t k = 0; k < full.size(); ++k) layout.strides[k].back() = full[k][d];
    } else {
      layout.shape.push_back(out[d]);
      for (size_t k = 0; k < full.size(); ++k) layout.strides[k].push_back(full[k][d]);
    }
  }
  if (layout.shape.empty()) {  // one element
    layout.shape.push_back(1);
    for (auto& s : layout.strides) s.push_back(0);
  }
  return layout;
}

// out = a op b with broadcasting. int64 is allowed where the op makes sense on integers;
// bfloat16 computes in float32 and rounds once.
static Tensor binary(BinaryOp op, const char* name, const Tensor& a, const Tensor& b,
                     bool allow_int64) {
  check_same_dtype(a, b, name);
  Tensor out(broadcast_shapes(a.shape(), b.shape(), name), a.dtype(), a.device());
  auto run = [&](auto dev, auto zero) {
    using T = decltype(zero);
    if (a.shape() == b.shape()) {
      binary_contiguous(dev, op, out.data<T>(), a.data<T>(), b.data<T>(), out.numel());
      return;
    }
    BroadcastLayout l = broadcast_layout(out.shape(), {a.shape(), b.shape()});
    binary_broadcast(dev, op, out.data<T>(), a.data<T>(), b.data<T>(), int64_t(l.shape.size()),
                     l.shape.data(), l.strides[0].data(), l.strides[1].data());
  };
  if (allow_int64) dispatch_all_dtypes_with_bf16({a, b}, name, run);
  else dispatch_with_bf16({a, b}, name, run);
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, "add", a, b, true); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, "sub", a, b, true); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, "mul", a, b, true); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, "div", a, b, false); }

// out = a op s for a floating tensor; s in the math type (float32 for a bfloat16 a, not rounded).
static Tensor apply_scalar(ScalarOp op, const char* name, const Tensor& a, double s) {
  Tensor out(a.shape(), a.dtype(), a.device());
  dispatch_with_bf16(a, name, [&](auto dev, auto zero) {
    using T = decltype(zero);
    scalar_op(dev, op, out.data<T>(), a.data<T>(), math_t<T>(s), a.numel());
  });
  return out;
}

Tensor add_scalar(const Tensor& a, double s) {
  return apply_scalar(ScalarOp::Add, "add_scalar", a, s);
}
Tensor mul_scalar(const Tensor& a, double s) {
  return apply_scalar(ScalarOp::Mul, "mul_scalar", a, s);
}
Tensor pow_scalar(const Tensor& a, double exponent) {
  return apply_scalar(ScalarOp::Pow, "pow_scalar", a, exponent);
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const Shape& g = grad.shape();
  NEAT_CHECK(shape.size() <= g.size(), "sum_to: cannot reduce ", shape_str(g), " to ", shape_str(shape));
  const size_t lead = g.size() - shape.size();
  std::vector<int64_t> dims;
  for (size_t d = 0; d < lead; ++d) dims.push_back(int64_t(d));
  for (size_t i = 0; i < shape.size(); ++i) {
    NEAT_CHECK(shape[i] == g[lead + i] || shape[i] == 1, "sum_to: cannot reduce ", shape_str(g),
               " to ", shape_str(shape));
    if (shape[i] != g[lead + i]) dims.push_back(int64_t(lead + i));
  }
  return sum(grad, dims, /*keepdim=*/true).reshape(shape);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  NEAT_CHECK(broadcast_shapes(x.shape(), shape, "expand") == shape, "expand: cannot expand ",
             shape_str(x.shape()), " to ", shape_str(shape));
  if (x.shape() == shape) return x;
  Tensor out(shape, x.dtype(), x.device());
  BroadcastLayout l = broadcast_layout(shape, {x.shape()});
  dispatch_all_dtypes_with_bf16(x, "expand", [&](auto dev, auto zero) {
    using T = decltype(zero);
    expand_broadcast(dev, out.data<T>(), x.data<T>(), int64_t(l.shape.size()), l.shape.data(),
                     l.strides[0].data());
  });
  return out;
}

// ---- in place ----------------------------------------------------------------------------

static void check_same_layout(const Tensor& dst, const Tensor& src, const char* op) {
  NEAT_CHECK(dst.shape() == src.shape(), op, ": shapes ", shape_str(dst.shape()), " and ",
             shape_str(src.shape()), " differ");
  check_same_dtype(dst, src, op);
}

void add_(Tensor& dst, const Tensor& src) {
  check_same_layout(dst, src, "add_");
  dispatch_all_dtypes_with_bf16({dst, src}, "add_", [&](auto dev, auto zero) {
    using T = decltype(zero);
    T* d = dst.data<T>();
    binary_contiguous(dev, BinaryOp::Add, d, d, src.data<T>(), dst.numel());
  });
}

void axpy_(Tensor& dst, double alpha, const Tensor& src) {
  check_same_layout(dst, src, "axpy_");
  dispatch_with_bf16({dst, src}, "axpy_", [&](auto dev, auto zero) {
    using T = decltype(zero);
    axpy(dev, dst.data<T>(), math_t<T>(alpha), src.data<T>(), dst.numel());
  });
}

void scale_(Tensor& dst, double alpha) {
  dispatch_with_bf16(dst, "scale_", [&](auto dev, auto zero) {
    using T = decltype(zero);
    T* d = dst.data<T>();
    scalar_op(dev, ScalarOp::Mul, d, d, math_t<T>(alpha), dst.numel());
  });
}

bool all_finite(const Tensor& x) {
  if (!is_floating(x.dtype())) return true;
  Tensor bad({}, DType::Int64, x.device());
  dispatch_with_bf16(x, "all_finite", [&](auto dev, auto zero) {
    using T = decltype(zero);
    count_nonfinite(dev, x.data<T>(), x.numel(), bad.data<int64_t>());
  });
  return bad.item() == 0;
}

}  // namespace neat
