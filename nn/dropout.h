// Dropout(p) as torch.nn.Dropout: in training, zero each element with probability p and scale
// the rest by 1 / (1 - p); identity in eval mode or when p == 0. Every Dropout of a model
// shares one Generator, so one seed fixes the whole stream of masks.
//
//   auto gen = std::make_shared<Generator>(42);
//   Dropout drop(0.1, gen);   drop.eval();   drop.forward(x);   // == x
#pragma once
#include <memory>

#include "nn/module.h"

namespace neat {

class Dropout : public Layer {
 public:
  // gen may be null only when p == 0.
  Dropout(double p, std::shared_ptr<Generator> gen);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Dropout"; }

  double p() const { return p_; }
  // forward is x itself now: eval mode, or p == 0.
  bool is_identity() const { return !is_training() || p_ == 0; }

 private:
  double p_;
  std::shared_ptr<Generator> gen_;
};

}  // namespace neat
