// Houlsby adapter (Houlsby et al. 2019): a bottleneck MLP with a residual connection after a
// sublayer's output projection:
//
//   h = x W0^T + b                                   (the frozen Linear it wraps)
//   y = h + up(act(down(h)))     down: OUT -> M, up: M -> OUT, both with bias
//
// The up-projection starts at zero, so the layer starts as the pre-trained one. attach_peft
// places one after each attention output projection and one after each MLP output projection
// (method "adapter"), before the residual add of the transformer block, where the paper puts
// them. Only the adapters (and the classifier) train here; the paper also trains the layer
// norms.
//
//   HoulsbyOptions opt;  opt.bottleneck = 64;
//   HoulsbyAdapter layer(base, opt);   // adapter_down.{weight [64, OUT], bias [64]},
//                                      // adapter_up.{weight [OUT, 64], bias [OUT]}
#pragma once
#include "nn/peft/adapted_linear.h"

namespace neat {

struct HoulsbyOptions {
  int64_t bottleneck = 64;   // M
  uint64_t seed = 0;         // init of the down-projection
};

class HoulsbyAdapter : public AdaptedLinear {
 public:
  HoulsbyAdapter(const Linear& base, const HoulsbyOptions& options);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "HoulsbyAdapter"; }

  const HoulsbyOptions& options() const { return options_; }
  // Trainable values per adapted layer: 2 M OUT + M + OUT.
  static int64_t parameter_count(int64_t out_features, const HoulsbyOptions& options);

  std::shared_ptr<Linear> adapter_down;   // weight [M, OUT], bias [M]
  std::shared_ptr<Linear> adapter_up;     // weight [OUT, M], bias [OUT], zero at the start

 private:
  HoulsbyOptions options_;
};

}  // namespace neat
