// Elementwise raw ops: shape and dtype checks, output allocation, then one kernel from
// tensor/cpu/elementwise.h fed with a scalar function from tensor/scalar_math.h.
#include "tensor/elementwise.h"

#include <algorithm>

#include "tensor/cpu/elementwise.h"
#include "tensor/dispatch.h"
#include "tensor/reduce.h"
#include "tensor/scalar_math.h"

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
    case UnaryOp::Identity: return "identity";
  }
  return "?";
}

// y = f(x); float32 and float64.
Tensor unary(UnaryOp op, const Tensor& x) {
  Tensor y(x.shape(), x.dtype(), x.device());
  dispatch(x, unary_op_name(op), [&](auto dev, auto zero) {
    using T = decltype(zero);
    auto map = [&](auto f) { map_contiguous(dev, y.data<T>(), x.data<T>(), x.numel(), f); };
    switch (op) {
      case UnaryOp::Neg: map([](T v) { return neg_forward(v); }); break;
      case UnaryOp::Exp: map([](T v) { return exp_forward(v); }); break;
      case UnaryOp::Log: map([](T v) { return log_forward(v); }); break;
      case UnaryOp::Sqrt: map([](T v) { return sqrt_forward(v); }); break;
      case UnaryOp::Tanh: map([](T v) { return tanh_forward(v); }); break;
      case UnaryOp::Sigmoid: map([](T v) { return sigmoid_forward(v); }); break;
      case UnaryOp::Relu: map([](T v) { return relu_forward(v); }); break;
      case UnaryOp::Gelu: map([](T v) { return gelu_forward(v); }); break;
      case UnaryOp::Sin: map([](T v) { return sin_forward(v); }); break;
      case UnaryOp::Sin2Pi: map([](T v) { return sin2pi_forward(v); }); break;
      case UnaryOp::Identity: map([](T v) { return identity_forward(v); }); break;
    }
  });
  return y;
}

bool unary_derivative_uses_output(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sqrt || op == UnaryOp::Tanh || op == UnaryOp::Sigmoid;
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
  dispatch({v, grad_y}, name, [&](auto dev, auto zero) {
    using T = decltype(zero);
    auto chain = [&](auto derivative) {
      zip_contiguous(dev, dx.data<T>(), grad_y.data<T>(), v.data<T>(), v.numel(),
                     [derivative](T d, T u) { return d * derivative(u); });
    };
    switch (op) {
      case UnaryOp::Neg: chain([](T u) { return neg_derivative(u); }); break;
      case UnaryOp::Exp: chain([](T u) { return exp_derivative_from_output(u); }); break;
      case UnaryOp::Log: chain([](T u) { return log_derivative(u); }); break;
      case UnaryOp::Sqrt: chain([](T u) { return sqrt_derivative_from_output(u); }); break;
      case UnaryOp::Tanh: chain([](T u) { return tanh_derivative_from_output(u); }); break;
      case UnaryOp::Sigmoid: chain([](T u) { return sigmoid_derivative_from_output(u); }); break;
      case UnaryOp::Relu: chain([](T u) { return relu_derivative(u); }); break;
      case UnaryOp::Gelu: chain([](T u) { return gelu_derivative(u); }); break;
      case UnaryOp::Sin: chain([](T u) { return sin_derivative(u); }); break;
      case UnaryOp::Sin2Pi: chain([](T u) { return sin2pi_derivative(u); }); break;
      case UnaryOp::Identity: chain([](T u) { return identity_derivative(u); }); break;
    }
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

// A broadcast loop's layout (see tensor/cpu/elementwise.h): the output sizes and, per
// operand, its element strides, with 0 along broadcast dims. Size-1 dims are dropped and
// neighbouring dims merged wherever every operand steps through them as through one dim, so
// [B, N, D] + [D] runs as rows of a [B*N, D] output and [B, N, D] * [B, N, 1] as [B*N, D].
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

// out = f(a, b) with broadcasting. int64 is allowed where the op makes sense on integers.
template <typename F>
static Tensor binary(const char* op, const Tensor& a, const Tensor& b, bool allow_int64, F f) {
  check_same_dtype(a, b, op);
  Tensor out(broadcast_shapes(a.shape(), b.shape(), op), a.dtype(), a.device());
  auto run = [&](auto dev, auto zero) {
    using T = decltype(zero);
    if (a.shape() == b.shape()) {
      zip_contiguous(dev, out.data<T>(), a.data<T>(), b.data<T>(), out.numel(), f);
      return;
    }
    BroadcastLayout l = broadcast_layout(out.shape(), {a.shape(), b.shape()});
    zip_broadcast(dev, out.data<T>(), a.data<T>(), b.data<T>(), int64_t(l.shape.size()),
                  l.shape.data(), l.strides[0].data(), l.strides[1].data(), f);
  };
  if (allow_int64) dispatch_all_dtypes({a, b}, op, run);
  else dispatch({a, b}, op, run);
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  return binary("add", a, b, true, [](auto x, auto y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary("sub", a, b, true, [](auto x, auto y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary("mul", a, b, true, [](auto x, auto y) { return x * y; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary("div", a, b, false, [](auto x, auto y) { return x / y; });
}

// out = f(a) for a floating tensor.
template <typename F>
static Tensor map_floating(const char* op, const Tensor& a, F f) {
  Tensor out(a.shape(), a.dtype(), a.device());
  dispatch(a, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    map_contiguous(dev, out.data<T>(), a.data<T>(), a.numel(), [&](T v) { return f(v); });
  });
  return out;
}

Tensor add_scalar(const Tensor& a, double s) {
  return map_floating("add_scalar", a, [s](auto v) { return v + decltype(v)(s); });
}
Tensor mul_scalar(const Tensor& a, double s) {
  return map_floating("mul_scalar", a, [s](auto v) { return v * decltype(v)(s); });
}
Tensor pow_scalar(const Tensor& a, double exponent) {
  return map_floating("pow_scalar", a, [exponent](auto v) { return pow_forward(v, decltype(v)(exponent)); });
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
  dispatch_all_dtypes(x, "expand", [&](auto dev, auto zero) {
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
  dispatch_all_dtypes({dst, src}, "add_", [&](auto dev, auto zero) {
    using T = decltype(zero);
    T* d = dst.data<T>();
    zip_contiguous(dev, d, d, src.data<T>(), dst.numel(), [](T u, T v) { return u + v; });
  });
}

void axpy_(Tensor& dst, double alpha, const Tensor& src) {
  check_same_layout(dst, src, "axpy_");
  dispatch({dst, src}, "axpy_", [&](auto dev, auto zero) {
    using T = decltype(zero);
    const T a = T(alpha);
    T* d = dst.data<T>();
    zip_contiguous(dev, d, d, src.data<T>(), dst.numel(), [a](T u, T v) { return u + a * v; });
  });
}

void scale_(Tensor& dst, double alpha) {
  dispatch(dst, "scale_", [&](auto dev, auto zero) {
    using T = decltype(zero);
    const T a = T(alpha);
    T* d = dst.data<T>();
    map_contiguous(dev, d, d, dst.numel(), [a](T v) { return a * v; });
  });
}

bool all_finite(const Tensor& x) {
  if (!is_floating(x.dtype())) return true;
  Tensor bad({}, DType::Int64, x.device());
  dispatch(x, "all_finite", [&](auto dev, auto zero) {
    using T = decltype(zero);
    count_nonfinite(dev, x.data<T>(), x.numel(), bad.data<int64_t>());
  });
  return bad.item() == 0;
}

}  // namespace neat
