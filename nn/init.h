// Parameter initialisation, as torch.nn.init: each function fills a parameter in place under
// NoGradGuard, drawing from the caller's seeded Generator (same seed => same weights).
//
//   Generator gen(0);
//   trunc_normal_(linear.weight, 0.02, gen);   // HF ViT weights
//   zeros_(linear.bias);
//   kaiming_uniform_(neat_A, std::sqrt(5.0), gen);
#pragma once
#include <cmath>

#include "autograd/variable.h"

namespace neat {

// N(mean, std) redrawn until it falls in [a, b]; a and b are absolute values, not multiples of
// std (torch.nn.init.trunc_normal_(t, mean, std, a=-2, b=2)).
void trunc_normal_(const Variable& p, double std, Generator& gen, double mean = 0.0,
                   double a = -2.0, double b = 2.0);
// N(mean, std), untruncated (torch.nn.init.normal_; HF LLaMA's _init_weights).
void normal_(const Variable& p, double std, Generator& gen, double mean = 0.0);
// U(-bound, bound), bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)) (leaky_relu
// gain, torch's default nonlinearity); fan_in = size(1) * prod(size(2:)) as torch computes it.
void kaiming_uniform_(const Variable& p, double a, Generator& gen);
void uniform_(const Variable& p, double low, double high, Generator& gen);
void zeros_(const Variable& p);
void ones_(const Variable& p);

// torch's fan_in of a weight: size(1) times the receptive field (the product of dims 2..).
int64_t fan_in(const Shape& shape);

}  // namespace neat
