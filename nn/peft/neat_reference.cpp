#include "nn/peft/neat_reference.h"

#include "autograd/elementwise.h"
#include "autograd/matmul.h"

namespace neat {

Variable neat_linear_reference(const Variable& x, const Variable& weight, const Variable& bias,
                               const Variable& A, const Variable& B,
                               const std::vector<Variable>& layers, const NeatSpec& spec) {
  std::vector<Tensor> layer_data;
  for (const Variable& l : layers) layer_data.push_back(l.data());
  check_neat_shapes(weight.data(), A.data(), B.data(), layer_data, spec);
  const UnaryOp op = neat_activation_op(spec.activation);
  // M = the network of W0: h = act(W0^T A^T), encoders push, decoders pop and add.
  Variable h = unary(op, matmul(weight, A, /*trans_a=*/true, /*trans_b=*/true));
  std::vector<Variable> saved;
  const size_t encoders = layers.size() / 2;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (i < encoders) saved.push_back(h);
    h = unary(op, matmul(h, layers[i], false, /*trans_b=*/true));
    if (i >= encoders) {
      h = h + saved.back();
      saved.pop_back();
    }
  }
  // y = x W0^T + b + s (x M) B^T
  Variable adapter = matmul(matmul(x, h), B, false, /*trans_b=*/true);
  return linear(x, weight, bias) + adapter * spec.scale;
}

}  // namespace neat
