// AdamW, exactly as torch.optim.AdamW (amsgrad=False), with parameter groups, and global-norm
// gradient clipping as torch.nn.utils.clip_grad_norm_. This is the policy (groups, learning
// rates, weight decay, step counts, state for checkpoints); the update is one raw op over all
// parameters, adamw_step_ (tensor/adamw.h), and the norm and clip are global_norm and
// clip_to_norm_ (tensor/grad_norm.h).
//
//   AdamW opt({{"head", head_params, /*lr=*/5e-3, /*weight_decay=*/1e-4},
//              {"backbone", backbone_params, 5e-3, 1e-4}});
//   loss.backward();
//   Tensor norm = clip_grad_norm(opt.parameters(), 1.0);   // norm.item() when logging
//   opt.step();          // each group at its own lr (a schedule sets group.lr before this)
//   opt.zero_grad();
//
// One step for a parameter p with gradient g (t counts this parameter's steps from 1):
//   p   <- p * (1 - lr * wd)                      decoupled weight decay
//   m   <- beta1 m + (1 - beta1) g                first moment
//   v   <- beta2 v + (1 - beta2) g^2              second moment
//   p   <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Parameters without a gradient are skipped (no state change), as in PyTorch. State is created
// on the parameter's device and dtype.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace neat {

using NamedParameters = std::vector<std::pair<std::string, Variable>>;

struct ParamGroup {
  std::string name;          // "head", "backbone": for logs
  NamedParameters params;    // names are the model's dotted names (state_dict keys)
  double lr = 1e-3;          // current learning rate, what step() uses
  double weight_decay = 1e-2;
  double base_lr = 0;        // the lr a schedule multiplies; 0 means "take lr" (set by AdamW)
};

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class AdamW {
 public:
  explicit AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});

  void step();
  // Drops every parameter's gradient (the next backward writes fresh ones).
  void zero_grad();

  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Every parameter of every group, in group order.
  std::vector<Variable> parameters() const;
  // Sets each group's lr to base_lr * multiplier (what a schedule does each step).
  void set_lr_multiplier(double multiplier);

  // Optimizer state for checkpoints, keyed by parameter name:
  //   "<name>.exp_avg", "<name>.exp_avg_sq" (the parameter's shape and dtype),
  //   "<name>.step" (int64 [1]). Parameters that never stepped have no entries.
  std::map<std::string, Tensor> state_dict() const;
  // Restores it; an entry for an unknown parameter or with a wrong shape is an error naming it.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 private:
  struct State {
    Tensor exp_avg, exp_avg_sq;
    int64_t step = 0;
  };
  std::vector<ParamGroup> groups_;
  AdamWOptions options_;
  std::map<std::string, State> state_;
};

// Scales every gradient by min(1, max_norm / (total_norm + 1e-6)), total_norm the 2-norm of all
// gradients together (parameters without a gradient are ignored). Returns total_norm, before
// clipping (the figure worth logging), as a float64 0-d tensor on the gradients' device: the norm
// and the clip are computed there (tensor/grad_norm.h) and nothing waits for the GPU until the
// caller reads it (item()). max_norm <= 0 only measures; no gradient at all: 0, on the CPU.
Tensor clip_grad_norm(const std::vector<Variable>& parameters, double max_norm);

}  // namespace neat
