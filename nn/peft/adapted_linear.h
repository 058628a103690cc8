// The common base of the layers attach_peft puts in place of a Linear: it keeps the wrapped
// layer's weight and bias (the same Variables, frozen, under their names "weight" and "bias",
// so Hugging Face names round-trip), and, for methods whose update Delta W does not depend on
// W0, merge / unmerge by adding and subtracting it.
//
//   class MyAdapter : public AdditiveAdapter {
//     MyAdapter(const Linear& base) : AdditiveAdapter(base) { /* register the adapter tensors */ }
//     Tensor delta_weight() const override;   // [OUT, IN]
//     Variable forward(const Variable& x) override;   // linear(x, weight, bias) when merged()
//   };
#pragma once
#include "nn/linear.h"

namespace neat {

class AdaptedLinear : public Layer {
 public:
  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }
  Variable weight, bias;   // W0 [OUT, IN], b [OUT] (undefined if none): frozen

 protected:
  explicit AdaptedLinear(const Linear& base);
};

class AdditiveAdapter : public AdaptedLinear {
 public:
  // Delta W [OUT, IN] for the current tensors (no graph).
  virtual Tensor delta_weight() const = 0;
  // W0 += Delta W (inference: the adapter gets no gradient while merged); unmerge subtracts it.
  // Errors when already merged / not merged.
  void merge();
  void unmerge();
  bool merged() const { return merged_; }

 protected:
  using AdaptedLinear::AdaptedLinear;

 private:
  bool merged_ = false;
};

}  // namespace neat
