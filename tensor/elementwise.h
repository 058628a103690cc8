// Elementwise raw ops (no gradients) with PyTorch broadcasting, and the helpers their
// backward needs. Every scalar function and its derivative is written once, in
// tensor/scalar_math.h, named by an op enum (tensor/elementwise_ops.h) and fed to one loop per
// op kind and device (tensor/cpu/elementwise.h, tensor/cuda/elementwise.cu).
//
//   Tensor y = add(x, bias);             // x [B, N, D] + bias [D] -> [B, N, D]
//   Tensor g = sum_to(grad_y, {D});      // reduce a broadcast gradient back to bias's shape
#pragma once
#include "tensor/elementwise_ops.h"
#include "tensor/tensor.h"

namespace neat {

const char* unary_op_name(UnaryOp op);

// y = f(x)
Tensor unary(UnaryOp op, const Tensor& x);
// dx = dy * f'(x); y = f(x) is passed too, since some derivatives are cheaper from y (exp, tanh,
// sigmoid, sqrt).
// unary_derivative_uses_output(op) (tensor/elementwise_ops.h) says which: then x, else y, may
// be undefined.
Tensor unary_backward(UnaryOp op, const Tensor& grad_y, const Tensor& x, const Tensor& y);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);      // exact: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
Tensor sin(const Tensor& x);
Tensor silu(const Tensor& x);     // x * sigmoid(x) (LLaMA's SwiGLU: silu(gate) * up)

// Shape both operands broadcast to (numpy/PyTorch rules); error names op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, double s);
Tensor mul_scalar(const Tensor& a, double s);
Tensor pow_scalar(const Tensor& a, double exponent);

// Sums grad (of a broadcast result) over the broadcast dims so it has `shape` again.
Tensor sum_to(const Tensor& grad, const Shape& shape);
// The opposite: x repeated along broadcast dims to `shape` (a copy, like torch's
// x.expand(shape).contiguous(); x itself when the shape already matches).
Tensor expand(const Tensor& x, const Shape& shape);

// In-place helpers (same shape and dtype): gradient accumulation and optimizers.
void add_(Tensor& dst, const Tensor& src);                 // dst += src
void axpy_(Tensor& dst, double alpha, const Tensor& src);  // dst += alpha * src
void scale_(Tensor& dst, double alpha);                    // dst *= alpha

// True when every element is finite (no NaN / inf).
bool all_finite(const Tensor& x);

}  // namespace neat
