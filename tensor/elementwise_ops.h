// The elementwise ops as run-time values (the enums the raw ops in tensor/elementwise.cpp pass
// to a kernel) and as functions (the functors a kernel's loop applies), mapped onto each other
// once, here, for both devices. A kernel's entry point turns the run-time op into a functor
// type with with_unary_forward / with_unary_backward / with_binary / with_scalar and
// instantiates its loop with it, so the scalar function (tensor/scalar_math.h) is inlined into
// the loop on the CPU and into the kernel on the GPU:
//
//   template <typename T>
//   void unary_forward(Cpu, UnaryOp op, T* y, const T* x, int64_t n) {   // tensor/cpu/elementwise.h
//     with_unary_forward(op, [&](auto f) { map_contiguous(y, x, n, f); });
//   }
//
//   UnaryForward<Op>:    y = f(x)
//   UnaryBackward<Op>:   dx = dy * f'(v), v = y where unary_derivative_uses_output(Op), else x
//   Binary<Op>:          out = a (+ - * /) b
//   WithScalar<Op, T>:   y = x + s, x * s, x^s
//   Axpy<T>:             y = y + alpha x
#pragma once
#include <type_traits>

#include "tensor/scalar_math.h"

namespace neat {

enum class UnaryOp { Neg, Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Gelu, Sin, Sin2Pi, Silu,
                     Identity };
enum class BinaryOp { Add, Sub, Mul, Div };
enum class ScalarOp { Add, Mul, Pow };

// True for the ops whose derivative is computed from the output y (cheaper: exp, sqrt, tanh,
// sigmoid); false: from the input x.
constexpr bool unary_derivative_uses_output(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sqrt || op == UnaryOp::Tanh || op == UnaryOp::Sigmoid;
}

template <UnaryOp Op>
struct UnaryForward {
  template <typename T>
  NEAT_HOST_DEVICE T operator()(T x) const {
    if constexpr (Op == UnaryOp::Neg) return neg_forward(x);
    else if constexpr (Op == UnaryOp::Exp) return exp_forward(x);
    else if constexpr (Op == UnaryOp::Log) return log_forward(x);
    else if constexpr (Op == UnaryOp::Sqrt) return sqrt_forward(x);
    else if constexpr (Op == UnaryOp::Tanh) return tanh_forward(x);
    else if constexpr (Op == UnaryOp::Sigmoid) return sigmoid_forward(x);
    else if constexpr (Op == UnaryOp::Relu) return relu_forward(x);
    else if constexpr (Op == UnaryOp::Gelu) return gelu_forward(x);
    else if constexpr (Op == UnaryOp::Sin) return sin_forward(x);
    else if constexpr (Op == UnaryOp::Sin2Pi) return sin2pi_forward(x);
    else if constexpr (Op == UnaryOp::Silu) return silu_forward(x);
    else return identity_forward(x);
  }
};

template <UnaryOp Op>
struct UnaryBackward {
  // v is y for the ops where unary_derivative_uses_output(Op), else x.
  template <typename T>
  NEAT_HOST_DEVICE T operator()(T dy, T v) const {
    if constexpr (Op == UnaryOp::Neg) return dy * neg_derivative(v);
    else if constexpr (Op == UnaryOp::Exp) return dy * exp_derivative_from_output(v);
    else if constexpr (Op == UnaryOp::Log) return dy * log_derivative(v);
    else if constexpr (Op == UnaryOp::Sqrt) return dy * sqrt_derivative_from_output(v);
    else if constexpr (Op == UnaryOp::Tanh) return dy * tanh_derivative_from_output(v);
    else if constexpr (Op == UnaryOp::Sigmoid) return dy * sigmoid_derivative_from_output(v);
    else if constexpr (Op == UnaryOp::Relu) return dy * relu_derivative(v);
    else if constexpr (Op == UnaryOp::Gelu) return dy * gelu_derivative(v);
    else if constexpr (Op == UnaryOp::Sin) return dy * sin_derivative(v);
    else if constexpr (Op == UnaryOp::Sin2Pi) return dy * sin2pi_derivative(v);
    else if constexpr (Op == UnaryOp::Silu) return dy * silu_derivative(v);
    else return dy * identity_derivative(v);
  }
};

template <BinaryOp Op>
struct Binary {
  template <typename T>
  NEAT_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (Op == BinaryOp::Add) return a + b;
    else if constexpr (Op == BinaryOp::Sub) return a - b;
    else if constexpr (Op == BinaryOp::Mul) return a * b;
    else return a / b;
  }
};

template <ScalarOp Op, typename T>
struct WithScalar {
  T s;
  NEAT_HOST_DEVICE T operator()(T x) const {
    if constexpr (Op == ScalarOp::Add) return x + s;
    else if constexpr (Op == ScalarOp::Mul) return x * s;
    else return pow_forward(x, s);
  }
};

template <typename T>
struct Axpy {
  T alpha;
  NEAT_HOST_DEVICE T operator()(T y, T x) const { return y + alpha * x; }
};

// fn(tag), tag a std::integral_constant: decltype(tag)::value == op, a compile-time constant.
template <typename Fn>
void with_unary_op(UnaryOp op, Fn&& fn) {
  using U = UnaryOp;
  switch (op) {
    case U::Neg: fn(std::integral_constant<U, U::Neg>{}); return;
    case U::Exp: fn(std::integral_constant<U, U::Exp>{}); return;
    case U::Log: fn(std::integral_constant<U, U::Log>{}); return;
    case U::Sqrt: fn(std::integral_constant<U, U::Sqrt>{}); return;
    case U::Tanh: fn(std::integral_constant<U, U::Tanh>{}); return;
    case U::Sigmoid: fn(std::integral_constant<U, U::Sigmoid>{}); return;
    case U::Relu: fn(std::integral_constant<U, U::Relu>{}); return;
    case U::Gelu: fn(std::integral_constant<U, U::Gelu>{}); return;
    case U::Sin: fn(std::integral_constant<U, U::Sin>{}); return;
    case U::Sin2Pi: fn(std::integral_constant<U, U::Sin2Pi>{}); return;
    case U::Silu: fn(std::integral_constant<U, U::Silu>{}); return;
    case U::Identity: fn(std::integral_constant<U, U::Identity>{}); return;
  }
}

// loop(f) with f the functor of op: what a device's entry point hands its loop.
template <typename Loop>
void with_unary_forward(UnaryOp op, Loop&& loop) {
  with_unary_op(op, [&](auto tag) { loop(UnaryForward<decltype(tag)::value>{}); });
}

template <typename Loop>
void with_unary_backward(UnaryOp op, Loop&& loop) {
  with_unary_op(op, [&](auto tag) { loop(UnaryBackward<decltype(tag)::value>{}); });
}

template <typename Loop>
void with_binary(BinaryOp op, Loop&& loop) {
  switch (op) {
    case BinaryOp::Add: loop(Binary<BinaryOp::Add>{}); return;
    case BinaryOp::Sub: loop(Binary<BinaryOp::Sub>{}); return;
    case BinaryOp::Mul: loop(Binary<BinaryOp::Mul>{}); return;
    case BinaryOp::Div: loop(Binary<BinaryOp::Div>{}); return;
  }
}

template <typename T, typename Loop>
void with_scalar(ScalarOp op, T s, Loop&& loop) {
  switch (op) {
    case ScalarOp::Add: loop(WithScalar<ScalarOp::Add, T>{s}); return;
    case ScalarOp::Mul: loop(WithScalar<ScalarOp::Mul, T>{s}); return;
    case ScalarOp::Pow: loop(WithScalar<ScalarOp::Pow, T>{s}); return;
  }
}

}  // namespace neat
