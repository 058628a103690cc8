#include "nn/peft/lora.h"

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/nn_functional.h"
#include "nn/init.h"
#include "tensor/matmul.h"

namespace neat {

Lora::Lora(const Linear& base, const LoraOptions& options)
    : options_(options),
      gen_(options.dropout_generator ? options.dropout_generator
                                     : std::make_shared<Generator>(options.seed + 2)) {
  NEAT_CHECK(options.rank >= 1, "Lora: rank must be >= 1, got ", options.rank);
  NEAT_CHECK(options.dropout >= 0 && options.dropout < 1, "Lora: dropout must be in [0, 1), got ",
             options.dropout);
  weight = register_parameter("weight", base.weight);
  weight.set_requires_grad(false);
  if (base.bias.defined()) {
    bias = register_parameter("bias", base.bias);
    bias.set_requires_grad(false);
  }
  const int64_t out = weight.size(0), in = weight.size(1), r = options.rank;
  lora_A = register_module("lora_A", std::make_shared<Linear>(in, r, false, options.seed));
  lora_B = register_module("lora_B", std::make_shared<Linear>(r, out, false, options.seed + 1));
  zeros_(lora_B->weight);
  to(weight.dtype());   // the adapter takes the base weight's dtype and device
  to(weight.data().device());
}

int64_t Lora::parameter_count(int64_t in_features, int64_t out_features,
                              const LoraOptions& options) {
  return options.rank * (in_features + out_features);
}

Variable lora_linear(const Variable& x, const Variable& weight, const Variable& bias,
                     const Variable& A, const Variable& B, double scaling, double dropout_p,
                     bool training, Generator& gen) {
  Variable h = dropout(x, dropout_p, training, gen);
  Variable update = linear(linear(h, A, Variable()), B, Variable());   // [.., R] -> [.., OUT]
  return linear(x, weight, bias) + update * scaling;
}

Variable Lora::forward(const Variable& x) {
  if (merged_) return linear(x, weight, bias);
  return lora_linear(x, weight, bias, lora_A->weight, lora_B->weight, scaling(), options_.dropout,
                     is_training(), *gen_);
}

Tensor Lora::delta_weight() const {
  Tensor delta = matmul(lora_B->weight.data(), lora_A->weight.data());   // [OUT, R] x [R, IN]
  scale_(delta, scaling());
  return delta;
}

void Lora::merge() {
  NEAT_CHECK(!merged_, "Lora: merge of an already merged layer");
  // W0 += scaling B A, accumulated in place (no OUT x IN temporary).
  matmul_into(weight.data(), lora_B->weight.data(), lora_A->weight.data(), false, false,
              scaling(), 1.0);
  merged_ = true;
}

void Lora::unmerge() {
  NEAT_CHECK(merged_, "Lora: unmerge of a layer that is not merged");
  matmul_into(weight.data(), lora_B->weight.data(), lora_A->weight.data(), false, false,
              -scaling(), 1.0);
  merged_ = false;
}

}  // namespace neat
