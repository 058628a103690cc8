// Gradient check of a module's own parameters (and optionally its input), for tests: the
// autograd/gradcheck.h harness builds fresh input Variables, but a module reads the parameters
// it owns, so here the parameters are perturbed in place. Everything must be float64.
//
//   attention.to(DType::Float64);
//   auto r = check_module_gradients(attention.named_parameters(), {x},
//                                   [&] { return attention.forward(x); });
//   CHECK_MESSAGE(r.ok, r.report);
#pragma once
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace neat {

struct ModuleGradcheckResult {
  bool ok = true;
  std::string report;  // the worst element: name, index, analytic, numeric
};

// Checks d/dv sum(forward() * R) for every element of every variable in `checked` (parameters
// and inputs, each requiring grad) against central differences.
inline ModuleGradcheckResult check_module_gradients(
    const std::vector<std::pair<std::string, Variable>>& checked,
    const std::function<Variable()>& forward, double eps = 1e-6, double atol = 1e-7,
    double rtol = 1e-5) {
  for (const auto& [name, v] : checked) {
    NEAT_CHECK(v.dtype() == DType::Float64 && v.requires_grad(), "check_module_gradients: '",
               name, "' must be float64 and require grad");
    Variable(v).zero_grad();
  }
  Variable y = forward();
  Generator gen(99);
  Tensor projection = randn(y.shape(), gen, DType::Float64);
  y.backward(projection);
  auto projected = [&] {
    Tensor out = forward().data();
    double s = 0;
    for (int64_t i = 0; i < out.numel(); ++i)
      s += out.data<double>()[i] * projection.data<double>()[i];
    return s;
  };

  ModuleGradcheckResult result;
  double worst = -INFINITY;
  NoGradGuard no_grad;
  for (const auto& [name, v] : checked) {
    Tensor analytic = v.grad();
    double* x = v.data().data<double>();
    for (int64_t i = 0; i < v.numel(); ++i) {
      double saved = x[i];
      x[i] = saved + eps;
      double plus = projected();
      x[i] = saved - eps;
      double minus = projected();
      x[i] = saved;
      double numeric = (plus - minus) / (2 * eps);
      double got = analytic.defined() ? analytic.flat(i) : 0.0;
      double excess = std::abs(got - numeric) - (atol + rtol * std::abs(numeric));
      if (excess > worst) {
        worst = excess;
        std::ostringstream s;
        s << "worst: " << name << " " << shape_str(v.shape()) << " [" << i << "]: analytic "
          << got << ", numeric " << numeric;
        result.report = s.str();
      }
      if (excess > 0) result.ok = false;
    }
  }
  return result;
}

}  // namespace neat
