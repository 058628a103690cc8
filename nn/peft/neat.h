// Neat: a frozen Linear adapted by a nonlinear function of its own weight (arXiv 2410.01870).
//
//   y = x W0^T + b + s (x M) B^T,   M = act(W0^T A^T) [then the R x R layers]   (docs/neat.md)
//
//   auto base = std::make_shared<Linear>(768, 768);
//   NeatOptions opt;  opt.rank = 8;  opt.depth = 4;
//   auto layer = std::make_shared<Neat>(*base, opt);   // freezes base's weight and bias
//   layer->named_parameters();   // weight, bias (frozen, the same Variables as base's),
//                                // neat_A.weight [8, 768], neat_B.weight [768, 8],
//                                // neat_layers.0.weight, neat_layers.1.weight [8, 8]
//   layer->merge();              // W0 += s B M^T; forward is a plain linear until unmerge()
//
// The wrapped weight keeps its name, so a model with Neat attached still has its Hugging Face
// state dict names for the backbone; the adapter's tensors are children named like peft's.
#pragma once
#include <memory>

#include "nn/linear.h"
#include "nn/module_list.h"
#include "nn/peft/neat_function.h"

namespace neat {

struct NeatOptions {
  int64_t rank = 8;   // R
  int64_t depth = 2;  // even, >= 2; depth 2 is the paper's vanilla Neat
  NeatActivation activation = NeatActivation::Relu;
  double scale = 1.0;   // s (docs/neat.md: why 1)
  uint64_t seed = 0;    // init of A and the intermediate layers
  NeatSpec spec() const { return {activation, depth, scale}; }
};

class Neat : public Layer {
 public:
  // A and the intermediate layers: kaiming-uniform (a = sqrt 5) like torch.nn.Linear; B: zeros.
  // Tensors take the base weight's dtype and device.
  Neat(const Linear& base, const NeatOptions& options);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Neat"; }

  // Folds Delta W = s B M^T into W0 (inference: the adapter gets no gradient while merged),
  // and takes it back out with the same M, kept as the non-persistent buffer "merged_M"
  // [IN, R] (so it converts and moves with the module). Errors when already merged / not merged.
  void merge();
  void unmerge();
  bool merged() const;
  // s B M^T [OUT, IN] for the current tensors (when merged: error, W0 already holds it).
  Tensor delta_weight() const;

  const NeatOptions& options() const { return options_; }
  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }
  // Trainable values per adapted layer: R OUT (A) + OUT R (B) + (depth-2) R^2.
  static int64_t parameter_count(int64_t out_features, const NeatOptions& options);

  Variable weight, bias;   // W0 [OUT, IN] and b [OUT] (undefined if none), frozen
  std::shared_ptr<Linear> neat_A;           // weight [R, OUT]
  std::shared_ptr<Linear> neat_B;           // weight [OUT, R]
  std::shared_ptr<ModuleList> neat_layers;  // "0".."depth-3", each weight [R, R]

 private:
  std::vector<Variable> layer_weights() const;
  NeatOptions options_;
};

}  // namespace neat
