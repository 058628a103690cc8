#include "train/optimizer.h"

#include <cmath>

#include "tensor/adamw.h"
#include "tensor/grad_norm.h"
#include "tensor/profile.h"

namespace neat {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : groups_(std::move(groups)), options_(options) {
  for (ParamGroup& group : groups_) {
    NEAT_CHECK(group.lr >= 0, "AdamW: group '", group.name, "' has negative lr ", group.lr);
    NEAT_CHECK(group.weight_decay >= 0, "AdamW: group '", group.name,
               "' has negative weight_decay ", group.weight_decay);
    if (group.base_lr == 0) group.base_lr = group.lr;
    for (const auto& [name, p] : group.params) {
      NEAT_CHECK(p.defined() && is_floating(p.dtype()), "AdamW: parameter '", name,
                 "' is undefined or not floating point");
    }
  }
  NEAT_CHECK(options_.beta1 >= 0 && options_.beta1 < 1 && options_.beta2 >= 0 &&
                 options_.beta2 < 1 && options_.eps >= 0,
             "AdamW: invalid betas (", options_.beta1, ", ", options_.beta2, ") or eps ",
             options_.eps);
}

// The policy: which parameters step (those with a gradient, as PyTorch), at which lr and weight
// decay, and each one's step count; the update itself is one raw op over all of them. State is
// created on the parameter's device and dtype, and kept only once the step succeeded.
void AdamW::step() {
  const ProfileScope profile(ProfilePhase::Optimizer, "adamw_step");
  std::vector<AdamWParameter> update;
  for (const ParamGroup& group : groups_) {
    for (const auto& [name, p] : group.params) {
      if (!p.grad().defined()) continue;
      const Tensor& value = p.data();
      auto it = state_.find(name);
      const bool fresh = it == state_.end();
      update.push_back({name, value, p.grad(),
                        fresh ? zeros(value.shape(), value.dtype(), value.device()) : it->second.exp_avg,
                        fresh ? zeros(value.shape(), value.dtype(), value.device()) : it->second.exp_avg_sq,
                        fresh ? 1 : it->second.step + 1, group.lr, group.weight_decay});
    }
  }
  adamw_step_(update, {options_.beta1, options_.beta2, options_.eps});
  for (const AdamWParameter& u : update) state_[u.name] = {u.exp_avg, u.exp_avg_sq, u.step};
}

void AdamW::zero_grad() {
  const ProfileScope profile(ProfilePhase::Optimizer, "zero_grad");
  for (ParamGroup& group : groups_)
    for (auto& named : group.params) named.second.zero_grad();
}

std::vector<Variable> AdamW::parameters() const {
  std::vector<Variable> all;
  for (const ParamGroup& group : groups_)
    for (const auto& named : group.params) all.push_back(named.second);
  return all;
}

void AdamW::set_lr_multiplier(double multiplier) {
  for (ParamGroup& group : groups_) group.lr = group.base_lr * multiplier;
}

std::map<std::string, Tensor> AdamW::state_dict() const {
  std::map<std::string, Tensor> out;
  for (const auto& [name, s] : state_) {
    out[name + ".exp_avg"] = s.exp_avg;
    out[name + ".exp_avg_sq"] = s.exp_avg_sq;
    out[name + ".step"] = from_vector(std::vector<int64_t>{s.step});
  }
  return out;
}

void AdamW::load_state_dict(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Variable> by_name;
  for (const ParamGroup& group : groups_)
    for (const auto& [name, p] : group.params) by_name[name] = p;
  std::map<std::string, State> loaded;
  for (const auto& [key, tensor] : state) {
    const size_t dot = key.rfind('.');
    NEAT_CHECK(dot != std::string::npos, "AdamW::load_state_dict: malformed key '", key, "'");
    const std::string name = key.substr(0, dot), field = key.substr(dot + 1);
    auto it = by_name.find(name);
    NEAT_CHECK(it != by_name.end(), "AdamW::load_state_dict: state for unknown parameter '",
               name, "'");
    State& s = loaded[name];
    if (field == "step") {
      NEAT_CHECK(tensor.numel() == 1, "AdamW::load_state_dict: '", key, "' must hold one value");
      // Checked before the conversion: a double outside int64's range (or NaN) converted to an
      // int64 is undefined behaviour (found by fuzz/checkpoint.cpp: a step of 6.6e180).
      const double step = tensor.flat(0);
      NEAT_CHECK(step >= 1 && step <= 9007199254740992.0 && step == std::floor(step),
                 "AdamW::load_state_dict: '", key, "' is ", step,
                 ", not a step count (a whole number from 1 to 2^53)");
      s.step = int64_t(step);
      continue;
    }
    NEAT_CHECK(field == "exp_avg" || field == "exp_avg_sq", "AdamW::load_state_dict: unknown field '",
               key, "'");
    const Tensor& value = it->second.data();
    NEAT_CHECK(tensor.shape() == value.shape(), "AdamW::load_state_dict: '", key, "' has shape ",
               shape_str(tensor.shape()), ", parameter has ", shape_str(value.shape()));
    Tensor copy = empty(value.shape(), value.dtype(), value.device());
    copy.copy_from(tensor);
    (field == "exp_avg" ? s.exp_avg : s.exp_avg_sq) = copy;
  }
  for (const auto& [name, s] : loaded) {
    NEAT_CHECK(s.exp_avg.defined() && s.exp_avg_sq.defined() && s.step > 0,
               "AdamW::load_state_dict: incomplete state for '", name, "'");
  }
  state_ = std::move(loaded);
}

Tensor clip_grad_norm(const std::vector<Variable>& parameters, double max_norm) {
  const ProfileScope profile(ProfilePhase::Optimizer, "clip_grad_norm");
  std::vector<Tensor> grads;
  for (const Variable& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return zeros({}, DType::Float64);
  const Tensor total_norm = global_norm(grads);
  if (max_norm > 0) clip_to_norm_(grads, total_norm, max_norm);
  return total_norm;
}

}  // namespace neat
