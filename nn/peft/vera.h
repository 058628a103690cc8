// VeRA (Kopiczko et al. 2024): one pair of frozen random matrices shared by every adapted
// layer, and per layer only two trainable scaling vectors, as Hugging Face peft's vera.Linear:
//
//   y = x W0^T + b + lambda_b * ((lambda_d * (x A_s^T)) B_s^T)
//   A_s = vera_A[:, :IN] [R, IN],  B_s = vera_B[:OUT, :] [OUT, R]   (frozen, shared)
//   lambda_d [R] (starts at d_initial), lambda_b [OUT] (starts at 0: the layer starts unchanged)
//
// Like peft, the shared pair is sized for the largest adapted layer, vera_A [R, max IN] and
// vera_B [max OUT, R], and each layer uses its leading slice, so layers of one shape share
// the same A and B. The pair is state, not a parameter: it is not in named_parameters (it is
// rebuilt from projection_seed, and adapter files carry it, as peft's save_projection does).
//
//   VeraOptions opt;  opt.rank = 256;
//   auto shared = make_vera_projections(opt, max_in, max_out, DType::Float32);
//   Vera layer(base, opt, shared);   // vera_lambda_d [256], vera_lambda_b [OUT]
#pragma once
#include <memory>

#include "nn/peft/adapted_linear.h"

namespace neat {

struct VeraOptions {
  int64_t rank = 256;             // r (peft's default)
  double d_initial = 0.1;         // lambda_d's start (peft's default)
  uint64_t projection_seed = 0;   // the shared A and B (peft's projection_prng_key)
};

// The shared frozen pair, drawn value for value as peft's _kaiming_init draws it from
// projection_prng_key (torch's generator, tensor/torch_generator.h; U(-sqrt(6 / fan_in),
// sqrt(6 / fan_in))), so a peft that rebuilds them from the seed has ours.
struct VeraProjections {
  Variable vera_A;   // [R, max IN]
  Variable vera_B;   // [max OUT, R]
};
std::shared_ptr<VeraProjections> make_vera_projections(const VeraOptions& options,
                                                       int64_t max_in, int64_t max_out,
                                                       DType dtype);

// The functional form (bias may be undefined; A and B already sliced to [R, IN], [OUT, R]).
Variable vera_linear(const Variable& x, const Variable& weight, const Variable& bias,
                     const Variable& A, const Variable& B, const Variable& lambda_d,
                     const Variable& lambda_b);

class Vera : public AdditiveAdapter {
 public:
  Vera(const Linear& base, const VeraOptions& options,
       std::shared_ptr<VeraProjections> projections);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Vera"; }

  // diag(lambda_b) B_s diag(lambda_d) A_s, [OUT, IN] (merge adds it to W0).
  Tensor delta_weight() const override;

  const VeraOptions& options() const { return options_; }
  const std::shared_ptr<VeraProjections>& projections() const { return projections_; }
  // Trainable values per adapted layer: R + OUT.
  static int64_t parameter_count(int64_t out_features, const VeraOptions& options);

  Variable vera_lambda_d;    // [R]
  Variable vera_lambda_b;    // [OUT]

 private:
  Variable sliced_A() const;
  Variable sliced_B() const;
  VeraOptions options_;
  std::shared_ptr<VeraProjections> projections_;
};

}  // namespace neat
