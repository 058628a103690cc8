// The Neat computation composed from primitive differentiable ops (matmul, unary, add, linear):
// the readable specification that the fused op in neat_function.h is tested against (values
// and gradients). Same arguments and meaning as neat_linear; its backward is whatever the
// primitives record, so it also computes the (frozen) W0's terms the fused op can skip.
#pragma once
#include "nn/peft/neat_function.h"

namespace neat {

Variable neat_linear_reference(const Variable& x, const Variable& weight, const Variable& bias,
                               const Variable& A, const Variable& B,
                               const std::vector<Variable>& layers, const NeatSpec& spec);

}  // namespace neat
