#include "autograd/gradcheck.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <sstream>

namespace neat {

namespace {

// The scalar being differentiated, L(x) = sum_i f(x)_i R_i, and the size of its rounding
// error, sum_i |f(x)_i R_i| (what the sum's terms could lose before they cancel).
struct Projection {
  double value = 0;
  double magnitude = 0;
};
Projection project(const Tensor& y, const Tensor& r) {
  NEAT_CHECK(y.dtype() == DType::Float64,
             "gradcheck: f must return float64 for float64 inputs, got ", dtype_name(y.dtype()));
  NEAT_CHECK(y.shape() == r.shape(), "gradcheck: f returned ", shape_str(y.shape()),
             " on one call and ", shape_str(r.shape()), " on another");
  const double* a = y.data<double>();
  const double* b = r.data<double>();
  Projection p;
  for (int64_t i = 0; i < y.numel(); ++i) {
    p.value += a[i] * b[i];
    p.magnitude += std::abs(a[i] * b[i]);
  }
  return p;
}

}  // namespace

GradcheckResult gradcheck(const std::vector<std::pair<std::string, Variable>>& checked,
                          const std::function<Variable()>& f, GradcheckOptions options) {
  for (const auto& [name, v] : checked) {
    NEAT_CHECK(v.dtype() == DType::Float64 && v.requires_grad(), "gradcheck: '", name,
               "' must be float64 and require grad, got ", dtype_name(v.dtype()),
               v.requires_grad() ? "" : " without requires_grad");
    Variable(v).zero_grad();
  }

  // Analytic: backpropagate R through f.
  Variable y = f();
  NEAT_CHECK(y.requires_grad(), "gradcheck: the output does not depend on any checked tensor");
  Generator gen(options.seed);
  const Tensor projection = randn(y.shape(), gen, DType::Float64);
  y.backward(projection);
  const double rounding = 16 * DBL_EPSILON * project(y.data(), projection).magnitude;

  GradcheckResult result;
  result.ok = true;
  NoGradGuard no_grad;
  for (const auto& [name, v] : checked) {
    const Tensor& analytic = v.grad();
    double* x = v.data().data<double>();
    // Numeric: central differences (L(x + eps) - L(x - eps)) / 2 eps, one element at a time.
    std::vector<double> numeric(size_t(v.numel())), noise(size_t(v.numel()));
    for (int64_t i = 0; i < v.numel(); ++i) {
      const double saved = x[i];
      x[i] = saved + options.eps;
      const Projection plus = project(f().data(), projection);
      x[i] = saved - options.eps;
      const Projection minus = project(f().data(), projection);
      x[i] = saved;
      numeric[size_t(i)] = (plus.value - minus.value) / (2 * options.eps);
      noise[size_t(i)] =
          std::max(rounding, 16 * DBL_EPSILON * std::max(plus.magnitude, minus.magnitude)) /
          (2 * options.eps);
    }
    double scale = 0;
    for (double n : numeric) scale = std::max(scale, std::abs(n));
    for (int64_t i = 0; i < v.numel(); ++i) {
      const double got = analytic.defined() ? analytic.flat(i) : 0.0;
      const double allowed = options.rtol * scale + noise[size_t(i)];
      const double error = std::abs(got - numeric[size_t(i)]);
      const double ratio = error == 0 ? 0.0 : std::isnan(error) ? INFINITY : error / allowed;
      if (ratio > result.worst_ratio || result.report.empty()) {
        result.worst_ratio = ratio;
        std::ostringstream s;
        s << "worst element: " << name << " " << shape_str(v.shape()) << " flat index " << i
          << ": analytic " << got << ", numeric " << numeric[size_t(i)] << ", allowed error "
          << allowed << " (rtol " << options.rtol << " x largest numeric " << scale << " + noise "
          << noise[size_t(i)] << ")";
        result.report = s.str();
      }
    }
  }
  result.ok = result.worst_ratio <= 1;
  result.report = (result.ok ? "ok; " : "FAILED; ") + result.report;
  return result;
}

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options) {
  std::vector<Variable> vars;
  std::vector<std::pair<std::string, Variable>> checked;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const bool floating = is_floating(inputs[k].dtype());
    vars.emplace_back(floating ? inputs[k].to(DType::Float64).clone() : inputs[k], floating);
    if (floating) checked.emplace_back("input " + std::to_string(k), vars.back());
  }
  return gradcheck(
      checked, [&] { return f(vars); }, options);
}

}  // namespace neat
