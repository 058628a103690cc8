#include "nn/peft/dora.h"

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/reduce.h"
#include "nn/init.h"
#include "tensor/elementwise.h"
#include "tensor/matmul.h"
#include "tensor/reduce.h"

namespace neat {

Tensor dora_weight_norm(const Tensor& weight, const Tensor& A, const Tensor& B, double scaling) {
  Tensor w = weight.clone();
  axpy_(w, scaling, matmul(B, A));
  return sqrt(sum(mul(w, w), {1}));
}

Variable dora_linear(const Variable& x, const Variable& weight, const Variable& bias,
                     const Variable& A, const Variable& B, const Variable& magnitude,
                     double scaling, const Tensor& weight_norm) {
  Variable factor = magnitude / Variable(weight_norm);   // [OUT], broadcast over the rows of y
  Variable branch = linear(linear(x, A, Variable()), B, Variable()) * scaling;
  Variable y = (linear(x, weight, Variable()) + branch) * factor;
  return bias.defined() ? y + bias : y;
}

Dora::Dora(const Linear& base, const LoraOptions& options) : AdaptedLinear(base), options_(options) {
  NEAT_CHECK(options.rank >= 1, "Dora: rank must be >= 1, got ", options.rank);
  NEAT_CHECK(options.dropout == 0, "Dora: dropout is not supported (got ", options.dropout, ")");
  const int64_t out = weight.size(0), in = weight.size(1), r = options.rank;
  lora_A = register_module("lora_A", std::make_shared<Linear>(in, r, false, options.seed));
  lora_B = register_module("lora_B", std::make_shared<Linear>(r, out, false, options.seed + 1));
  zeros_(lora_B->weight);
  if (weight.dtype() != lora_A->weight.dtype()) {
    lora_A->to(weight.dtype());
    lora_B->to(weight.dtype());
  }
  Tensor norm = dora_weight_norm(weight.data(), lora_A->weight.data(), lora_B->weight.data(),
                                 scaling());
  lora_magnitude_vector = register_parameter("lora_magnitude_vector", norm);
}

int64_t Dora::parameter_count(int64_t in_features, int64_t out_features,
                              const LoraOptions& options) {
  return options.rank * (in_features + out_features) + out_features;
}

Variable Dora::forward(const Variable& x) {
  if (merged()) return linear(x, weight, bias);
  const Tensor norm = dora_weight_norm(weight.data(), lora_A->weight.data(),
                                       lora_B->weight.data(), scaling());
  return dora_linear(x, weight, bias, lora_A->weight, lora_B->weight, lora_magnitude_vector,
                     scaling(), norm);
}

void Dora::merge() {
  NEAT_CHECK(!merged(), "Dora: merge of an already merged layer");
  NoGradGuard no_grad;
  const Tensor a = lora_A->weight.data(), b = lora_B->weight.data();
  Tensor norm = dora_weight_norm(weight.data(), a, b, scaling());
  Tensor merged = weight.data().clone();
  axpy_(merged, scaling(), matmul(b, a));
  Tensor factor = div(lora_magnitude_vector.data(), norm).reshape({-1, 1});
  weight.data().copy_from(mul(merged, factor));
  merged_norm_ = norm;
}

void Dora::unmerge() {
  NEAT_CHECK(merged(), "Dora: unmerge of a layer that is not merged");
  NoGradGuard no_grad;
  Tensor factor = div(merged_norm_, lora_magnitude_vector.data()).reshape({-1, 1});
  Tensor w = mul(weight.data(), factor);
  axpy_(w, -scaling(), matmul(lora_B->weight.data(), lora_A->weight.data()));
  weight.data().copy_from(w);
  merged_norm_ = Tensor();
}

}  // namespace neat
