#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

namespace neat {

// The scalar being differentiated: L(x) = sum_i f(x)_i * R_i, with R fixed per call.
static double projected(const Tensor& y, const Tensor& projection) {
  const double* a = y.data<double>();
  const double* r = projection.data<double>();
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += a[i] * r[i];
  return s;
}

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options) {
  std::vector<Variable> vars;
  for (const Tensor& t : inputs) {
    bool floating = is_floating(t.dtype());
    vars.emplace_back(floating ? t.to(DType::Float64).clone() : t, floating);
  }

  // Analytic: backpropagate R through f.
  Variable y = f(vars);
  NEAT_CHECK(y.dtype() == DType::Float64, "gradcheck: f must return float64 for float64 inputs, got ",
             dtype_name(y.dtype()));
  Generator gen(options.seed);
  Tensor projection = randn(y.shape(), gen, DType::Float64);
  NEAT_CHECK(y.requires_grad(), "gradcheck: the output does not depend on any input");
  y.backward(projection);

  GradcheckResult result;
  result.ok = true;
  result.worst_error = -INFINITY;
  std::ostringstream report;
  NoGradGuard no_grad;
  for (size_t k = 0; k < vars.size(); ++k) {
    if (!vars[k].requires_grad()) continue;
    const Tensor& analytic = vars[k].grad();
    double* x = vars[k].data().data<double>();
    for (int64_t i = 0; i < vars[k].numel(); ++i) {
      // Numeric: central difference (L(x + eps) - L(x - eps)) / 2 eps.
      const double saved = x[i];
      x[i] = saved + options.eps;
      double plus = projected(f(vars).data(), projection);
      x[i] = saved - options.eps;
      double minus = projected(f(vars).data(), projection);
      x[i] = saved;
      double numeric = (plus - minus) / (2 * options.eps);
      double got = analytic.defined() ? analytic.flat(i) : 0.0;
      double excess = std::abs(got - numeric) - (options.atol + options.rtol * std::abs(numeric));
      if (excess > result.worst_error) {
        result.worst_error = excess;
        report.str("");
        report << "worst element: input " << k << " " << shape_str(vars[k].shape()) << " flat index "
               << i << ": analytic " << got << ", numeric " << numeric << " (atol " << options.atol
               << ", rtol " << options.rtol << ")";
      }
      if (excess > 0) result.ok = false;
    }
  }
  result.report = (result.ok ? "ok; " : "FAILED; ") + report.str();
  return result;
}

}  // namespace neat
