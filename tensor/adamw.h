// One AdamW step over many parameters as a raw op (the update of torch.optim.AdamW,
// amsgrad=False): the optimizer (train/optimizer.h) keeps the policy (groups, learning rates,
// weight decay, schedule, the per-parameter step count) and hands every parameter to one call.
//
//   std::vector<AdamWParameter> params = {{"w", w, w_grad, w_exp_avg, w_exp_avg_sq, /*step=*/1,
//                                          /*lr=*/1e-3, /*weight_decay=*/1e-2}};
//   adamw_step_(params, {0.9, 0.999, 1e-8});   // updates w, w_exp_avg, w_exp_avg_sq in place
//
// The kernel and the update's formula: tensor/cpu/adamw.h.
#pragma once
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace neat {

// One parameter's part of the step. The four tensors share the parameter's shape, dtype and
// device; step counts this parameter's updates, this one included (from 1).
struct AdamWParameter {
  std::string name;  // for errors
  Tensor param, grad, exp_avg, exp_avg_sq;
  int64_t step = 1;
  double lr = 1e-3;
  double weight_decay = 1e-2;
};

struct AdamWBetas {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

// Updates every param, exp_avg and exp_avg_sq in place. Every parameter is checked before any
// is updated; an error names the parameter and what does not match.
void adamw_step_(const std::vector<AdamWParameter>& params, AdamWBetas betas);

}  // namespace neat
