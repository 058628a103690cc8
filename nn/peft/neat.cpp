#include "nn/peft/neat.h"

#include "autograd/cast.h"
#include "autograd/matmul.h"
#include "nn/init.h"
#include "tensor/matmul.h"

namespace neat {

Neat::Neat(const Linear& base, const NeatOptions& options) : options_(options) {
  NEAT_CHECK(options.rank >= 1, "Neat: rank must be >= 1, got ", options.rank);
  NEAT_CHECK(options.depth >= 2 && options.depth % 2 == 0,
             "Neat: depth must be even and >= 2, got ", options.depth);
  weight = register_parameter("weight", base.weight);
  weight.set_requires_grad(false);
  if (base.bias.defined()) {
    bias = register_parameter("bias", base.bias);
    bias.set_requires_grad(false);
  }
  const int64_t out = out_features(), r = options.rank;
  // Linear(OUT, R) has weight [R, OUT] with torch's default init: kaiming-uniform, a = sqrt 5.
  neat_A = register_module("neat_A", std::make_shared<Linear>(out, r, false, options.seed));
  neat_B = register_module("neat_B", std::make_shared<Linear>(r, out, false, options.seed + 1));
  zeros_(neat_B->weight);
  neat_layers = register_module("neat_layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < options.depth - 2; ++i)
    neat_layers->append(std::make_shared<Linear>(r, r, false, options.seed + 2 + uint64_t(i)));
  // Not a parameter and not saved: merge() computes it, unmerge() needs the very same M.
  register_buffer("merged_M", Tensor(), /*persistent=*/false);
  to(weight.dtype());   // the adapter takes the base weight's dtype and device
  to(weight.data().device());
}

bool Neat::merged() const { return buffer("merged_M").defined(); }

std::vector<Variable> Neat::layer_weights() const { return neat_layers->parameters(); }

int64_t Neat::parameter_count(int64_t out_features, const NeatOptions& options) {
  const int64_t r = options.rank;
  return r * out_features + out_features * r + (options.depth - 2) * r * r;
}

Variable Neat::forward(const Variable& x) {
  if (merged()) return linear(x, in_dtype_of(weight, x), in_dtype_of(bias, x));
  // A, B and the layers stay in their dtype: under a bf16 x, neat_linear runs the M network in
  // float32 and casts M and B once (nn/peft/neat_function.h).
  return neat_linear(x, in_dtype_of(weight, x), in_dtype_of(bias, x), neat_A->weight,
                     neat_B->weight, layer_weights(), options_.spec());
}

static std::vector<Tensor> data_of(const std::vector<Variable>& vars) {
  std::vector<Tensor> out;
  for (const Variable& v : vars) out.push_back(v.data());
  return out;
}

Tensor Neat::delta_weight() const {
  NEAT_CHECK(!merged(), "Neat: delta_weight of a merged layer (W0 already holds it)");
  NoGradGuard no_grad;
  NeatStack stack = neat_m_forward(weight.data(), neat_A->weight.data(),
                                   data_of(layer_weights()), options_.spec());
  return neat_delta_weight(stack.M(), neat_B->weight.data(), options_.scale);
}

void Neat::merge() {
  NEAT_CHECK(!merged(), "Neat: merge of an already merged layer");
  NoGradGuard no_grad;
  NeatStack stack = neat_m_forward(weight.data(), neat_A->weight.data(),
                                   data_of(layer_weights()), options_.spec());
  // W0 += s B M^T, accumulated in place (no OUT x IN temporary).
  matmul_into(weight.data(), neat_B->weight.data(), stack.M(), false, /*trans_b=*/true,
              options_.scale, 1.0);
  set_buffer("merged_M", stack.M());
}

void Neat::unmerge() {
  NEAT_CHECK(merged(), "Neat: unmerge of a layer that is not merged");
  NoGradGuard no_grad;
  matmul_into(weight.data(), neat_B->weight.data(), buffer("merged_M"), false, /*trans_b=*/true,
              -options_.scale, 1.0);
  set_buffer("merged_M", Tensor());
}

}  // namespace neat
