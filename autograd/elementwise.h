// Differentiable elementwise ops on Variables (broadcasting like PyTorch).
//
//   Variable y = add(mul(x, w), b);   // or: x * w + b
//   Variable z = gelu(y);
#pragma once
#include "autograd/variable.h"
#include "tensor/elementwise.h"

namespace neat {

Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable add_scalar(const Variable& a, double s);
Variable mul_scalar(const Variable& a, double s);
Variable pow_scalar(const Variable& a, double exponent);

// One differentiable function for every UnaryOp (y = f(x), dx = dy * f'(x)).
Variable unary(UnaryOp op, const Variable& x);
Variable neg(const Variable& x);
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable sqrt(const Variable& x);
Variable tanh(const Variable& x);
Variable sigmoid(const Variable& x);
Variable relu(const Variable& x);
Variable gelu(const Variable& x);
Variable sin(const Variable& x);
Variable silu(const Variable& x);   // x * sigmoid(x)

Variable operator+(const Variable& a, const Variable& b);
Variable operator-(const Variable& a, const Variable& b);
Variable operator*(const Variable& a, const Variable& b);
Variable operator/(const Variable& a, const Variable& b);
Variable operator-(const Variable& a);
Variable operator+(const Variable& a, double s);
Variable operator*(const Variable& a, double s);
Variable operator*(double s, const Variable& a);

}  // namespace neat
