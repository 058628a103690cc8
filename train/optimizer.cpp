#include "train/optimizer.h"

#include <cmath>

#include "tensor/elementwise.h"

namespace neat {

namespace {

// One AdamW update of n elements, in the parameter's precision with the same operation order
// as PyTorch's single-tensor implementation (scalars are computed in double, then narrowed).
// p, g, m, v: (n)
template <typename T>
void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, double lr, double weight_decay,
                  double beta1, double beta2, double eps, int64_t step) {
  const T decay = T(1.0 - lr * weight_decay);
  const T b1 = T(beta1), one_minus_b1 = T(1.0 - beta1);
  const T b2 = T(beta2), one_minus_b2 = T(1.0 - beta2);
  const double bias_correction1 = 1.0 - std::pow(beta1, double(step));
  const double bias_correction2 = 1.0 - std::pow(beta2, double(step));
  const T step_size = T(lr / bias_correction1);
  const T bias_correction2_sqrt = T(std::sqrt(bias_correction2));
  const T epsilon = T(eps);
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    p[i] *= decay;
    m[i] = m[i] * b1 + one_minus_b1 * g[i];
    v[i] = v[i] * b2 + one_minus_b2 * g[i] * g[i];
    const T denom = std::sqrt(v[i]) / bias_correction2_sqrt + epsilon;
    p[i] -= step_size * (m[i] / denom);
  }
}

// Sum of squares of n elements, accumulated in double.
template <typename T>
double sum_of_squares(const T* x, int64_t n) {
  double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) total += double(x[i]) * double(x[i]);
  return total;
}

}  // namespace

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

void AdamW::step() {
  for (const ParamGroup& group : groups_) {
    for (const auto& [name, p] : group.params) {
      const Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      const Tensor& value = p.data();
      NEAT_CHECK(grad.shape() == value.shape() && grad.dtype() == value.dtype(),
                 "AdamW: gradient of '", name, "' is ", shape_str(grad.shape()), " ",
                 dtype_name(grad.dtype()), ", parameter is ", shape_str(value.shape()), " ",
                 dtype_name(value.dtype()));
      State& s = state_[name];
      if (!s.exp_avg.defined()) {
        s.exp_avg = zeros(value.shape(), value.dtype());
        s.exp_avg_sq = zeros(value.shape(), value.dtype());
      }
      ++s.step;
      if (value.dtype() == DType::Float32) {
        adamw_kernel(value.data<float>(), grad.data<float>(), s.exp_avg.data<float>(),
                     s.exp_avg_sq.data<float>(), value.numel(), group.lr, group.weight_decay,
                     options_.beta1, options_.beta2, options_.eps, s.step);
      } else {
        adamw_kernel(value.data<double>(), grad.data<double>(), s.exp_avg.data<double>(),
                     s.exp_avg_sq.data<double>(), value.numel(), group.lr, group.weight_decay,
                     options_.beta1, options_.beta2, options_.eps, s.step);
      }
    }
  }
}

void AdamW::zero_grad() {
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
      s.step = int64_t(tensor.flat(0));
      continue;
    }
    NEAT_CHECK(field == "exp_avg" || field == "exp_avg_sq", "AdamW::load_state_dict: unknown field '",
               key, "'");
    const Tensor& value = it->second.data();
    NEAT_CHECK(tensor.shape() == value.shape(), "AdamW::load_state_dict: '", key, "' has shape ",
               shape_str(tensor.shape()), ", parameter has ", shape_str(value.shape()));
    Tensor copy = empty(value.shape(), value.dtype());
    copy.copy_from(tensor);
    (field == "exp_avg" ? s.exp_avg : s.exp_avg_sq) = copy;
  }
  for (const auto& [name, s] : loaded) {
    NEAT_CHECK(s.exp_avg.defined() && s.exp_avg_sq.defined() && s.step > 0,
               "AdamW::load_state_dict: incomplete state for '", name, "'");
  }
  state_ = std::move(loaded);
}

double clip_grad_norm(const std::vector<Variable>& parameters, double max_norm) {
  double squares = 0;
  for (const Variable& p : parameters) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    squares += g.dtype() == DType::Float32 ? sum_of_squares(g.data<float>(), g.numel())
                                           : sum_of_squares(g.data<double>(), g.numel());
  }
  const double total_norm = std::sqrt(squares);
  if (max_norm <= 0) return total_norm;
  const double coef = max_norm / (total_norm + 1e-6);
  if (coef < 1.0) {
    for (const Variable& p : parameters) {
      Variable param = p;
      if (param.grad().defined()) scale_(param.mutable_grad(), coef);
    }
  }
  return total_norm;
}

}  // namespace neat
