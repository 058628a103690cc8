// Differentiable matrix product and the linear layer's functional form.
//
//   Variable y = linear(x, weight, bias);   // x [.., IN], weight [OUT, IN], bias [OUT] or undefined
//   Variable h = linear_gelu(x, weight, bias);   // gelu(linear(x, weight, bias)), fused
//   Variable h = linear_add(x, weight, bias, r);  // linear(x, weight, bias) + r, fused
// With a frozen weight (requires_grad false) no weight-gradient GEMM runs.
#pragma once
#include "autograd/variable.h"
#include "tensor/matmul.h"

namespace neat {

Variable matmul(const Variable& a, const Variable& b, bool trans_a = false, bool trans_b = false);
// y = x W^T + b (bias may be an undefined Variable).
Variable linear(const Variable& x, const Variable& weight, const Variable& bias);
// y = gelu(x W^T + b): the same values and gradients as gelu(linear(x, weight, bias)), with GELU
// in the GEMM's store when nothing needs a gradient (tensor/matmul.h's linear_gelu_forward).
Variable linear_gelu(const Variable& x, const Variable& weight, const Variable& bias);
// y = x W^T + b + residual (residual: linear's output shape), a residual connection: the same
// values and gradients as add(linear(x, weight, bias), residual), the residual added in the
// GEMM's store (tensor/matmul.h's linear_add_forward).
Variable linear_add(const Variable& x, const Variable& weight, const Variable& bias,
                    const Variable& residual);

}  // namespace neat
