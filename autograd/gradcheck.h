// gradcheck: compare autograd gradients with float64 central differences.
//
//   auto f = [](const std::vector<Variable>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); };
//   GradcheckResult r = gradcheck(f, {x, w, b});   // tensors are converted to float64
//   CHECK_MESSAGE(r.ok, r.report);
//
// f may return any shape: the checked scalar is sum(f(x) * R) for a fixed random R, so every
// output element contributes. Each input that is floating gets requires_grad; int64 inputs are
// passed through (labels, indices).
#pragma once
#include <functional>
#include <string>

#include "autograd/variable.h"

namespace neat {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-6;
  double rtol = 1e-4;
  uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = false;
  double worst_error = 0;   // max over elements of |analytic - numeric| - (atol + rtol |numeric|)
  std::string report;       // names the worst element: input, index, analytic, numeric
};

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace neat
