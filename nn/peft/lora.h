// LoRA (Hu et al. 2021) around a frozen Linear, as Hugging Face peft's lora.Linear:
//
//   y = x W0^T + b + (alpha / r) * dropout(x) A^T B^T,   A [R, IN], B [OUT, R]
//
//   LoraOptions opt;  opt.rank = 8;  opt.alpha = 16;
//   auto layer = std::make_shared<Lora>(*base, opt);   // freezes base's weight and bias
//   layer->named_parameters();   // weight, bias (frozen, shared with base),
//                                // lora_A.weight [8, IN], lora_B.weight [OUT, 8]
//
// A starts kaiming-uniform (a = sqrt 5, torch.nn.Linear's default), B at zero, so the layer
// starts as the pre-trained one. lora_linear is one fused autograd node (as Neat's), written
// with raw tensor ops; with W0 frozen no weight-gradient GEMM runs for it.
#pragma once
#include <memory>

#include "nn/linear.h"

namespace neat {

// The functional form: y = x W0^T + b + scaling * (dropout(x) A^T) B^T (bias may be undefined;
// dropout only when training and p > 0, masks drawn from gen).
Variable lora_linear(const Variable& x, const Variable& weight, const Variable& bias,
                     const Variable& A, const Variable& B, double scaling, double dropout_p,
                     bool training, Generator& gen);

struct LoraOptions {
  int64_t rank = 8;       // r
  double alpha = 8.0;     // scaling = alpha / r (peft's defaults: r 8, alpha 8)
  double dropout = 0.0;   // on the LoRA branch's input, in training mode only
  uint64_t seed = 0;      // init of A and B
  // Where dropout masks come from: the model's one seeded stream (so a resumed run replays the
  // same masks); null = a private stream seeded with seed + 2.
  std::shared_ptr<Generator> dropout_generator;
};

class Lora : public Layer {
 public:
  Lora(const Linear& base, const LoraOptions& options);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Lora"; }

  // W0 += scaling B A (inference: the adapter gets no gradient while merged); unmerge()
  // subtracts it again. Errors when already merged / not merged.
  void merge();
  void unmerge();
  bool merged() const { return merged_; }

  double scaling() const { return options_.alpha / double(options_.rank); }
  const LoraOptions& options() const { return options_; }
  // Trainable values per adapted layer: R (IN + OUT).
  static int64_t parameter_count(int64_t in_features, int64_t out_features,
                                 const LoraOptions& options);

  Variable weight, bias;   // W0 [OUT, IN], b [OUT] (undefined if none), frozen
  std::shared_ptr<Linear> lora_A;   // weight [R, IN]
  std::shared_ptr<Linear> lora_B;   // weight [OUT, R]

 private:
  Tensor delta_weight() const;   // scaling B A, [OUT, IN]
  LoraOptions options_;
  std::shared_ptr<Generator> gen_;
  bool merged_ = false;
};

}  // namespace neat
