// Linear: y = x W^T + b, weight [OUT, IN], bias [OUT] (optional), as torch.nn.Linear
// (kaiming-uniform weight with a = sqrt(5), uniform(-1/sqrt(IN), 1/sqrt(IN)) bias).
#pragma once
#include "nn/module.h"

namespace neat {

class Linear : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, uint64_t seed = 0);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Linear"; }

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  Variable weight;  // [OUT, IN]
  Variable bias;    // [OUT], undefined when bias = false

 private:
  int64_t in_features_, out_features_;
};

// A Linear initialised as Hugging Face's PreTrainedModel._init_weights does for ViT and BERT:
// weight ~ truncated normal with std initializer_range, bias 0.
std::shared_ptr<Linear> hf_linear(int64_t in, int64_t out, double initializer_range,
                                  Generator& gen);

// gelu(dense(x)): one fused op (linear_gelu, autograd/matmul.h) when dense is a plain Linear,
// the two ops otherwise (an adapted layer: LoRA, Neat, ...). The same values and gradients.
Variable linear_then_gelu(Layer& dense, const Variable& x);

// dense(x) + residual: one fused op (linear_add, autograd/matmul.h) when dense is a plain
// Linear, the two ops otherwise. The same values and gradients.
Variable linear_then_add(Layer& dense, const Variable& x, const Variable& residual);

}  // namespace neat
