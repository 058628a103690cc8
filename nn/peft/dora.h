// DoRA (Liu et al. 2024): weight-decomposed LoRA, as Hugging Face peft's lora.Linear with
// use_dora=True:
//
//   W' = W0 + s B A                       (LoRA's update, s = alpha / r)
//   n  = ||W'||, the L2 norm of each output row of W' ([OUT]; the DoRA paper's column norm of
//        the [IN, OUT] weight), DETACHED: treated as a constant in the backward
//   y  = (m / n) * (x W0^T + s (x A^T) B^T) + b
//
//   DoraOptions = LoraOptions;  Dora layer(base, options);
//   layer.named_parameters();   // weight, bias (frozen), lora_A.weight [R, IN],
//                               // lora_B.weight [OUT, R], lora_magnitude_vector [OUT]
//
// m starts at ||W0|| (B is zero), so the layer starts as the pre-trained one. Detaching n is
// what the DoRA paper (section 4.3) recommends to save memory and what peft does; the gradient
// of A and B then flows only through the (x A^T) B^T branch, scaled by m / n.
#pragma once
#include "nn/peft/adapted_linear.h"
#include "nn/peft/lora.h"

namespace neat {

// The functional form (bias may be undefined) with n given: a constant of the graph, which
// Dora::forward computes from the current A and B with dora_weight_norm.
Variable dora_linear(const Variable& x, const Variable& weight, const Variable& bias,
                     const Variable& A, const Variable& B, const Variable& magnitude,
                     double scaling, const Tensor& weight_norm);

// n = ||W0 + s B A|| per output row, [OUT] (no graph).
Tensor dora_weight_norm(const Tensor& weight, const Tensor& A, const Tensor& B, double scaling);

class Dora : public AdaptedLinear {
 public:
  Dora(const Linear& base, const LoraOptions& options);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Dora"; }

  // W0 <- (m / n) (W0 + s B A) (n saved); unmerge inverts it with the saved n.
  void merge();
  void unmerge();
  bool merged() const { return merged_norm_.defined(); }

  double scaling() const { return options_.alpha / double(options_.rank); }
  const LoraOptions& options() const { return options_; }
  // Trainable values per adapted layer: R (IN + OUT) + OUT.
  static int64_t parameter_count(int64_t in_features, int64_t out_features,
                                 const LoraOptions& options);

  std::shared_ptr<Linear> lora_A;   // weight [R, IN]
  std::shared_ptr<Linear> lora_B;   // weight [OUT, R]
  Variable lora_magnitude_vector;   // m [OUT]

 private:
  LoraOptions options_;
  Tensor merged_norm_;   // n at merge time, [OUT]
};

}  // namespace neat
