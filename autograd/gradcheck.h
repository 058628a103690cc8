// gradcheck: compare autograd gradients with float64 central differences.
//
//   auto f = [](const std::vector<Variable>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); };
//   GradcheckResult r = gradcheck(f, {x, w, b});   // tensors are converted to float64
//   CHECK_MESSAGE(r.ok, r.report);
//
// f may return any shape: the checked scalar is L = sum(f(x) * R) for a fixed random R, so every
// output element contributes. Each input that is floating gets requires_grad; int64 inputs are
// passed through (labels, indices). A module reads the parameters it owns, so the second form
// takes the Variables themselves (float64, requiring grad) and perturbs them in place:
//
//   auto forward = [&] { return attention.forward(x); };
//   GradcheckResult r = gradcheck(attention.named_parameters(), forward);
//
// The tolerance scales with each checked tensor: element i of tensor k passes when
//   |analytic_i - numeric_i| <= rtol * max_j |numeric_j| + noise_i,
// where max_j runs over tensor k, and noise_i is what the central difference itself cannot
// resolve: the rounding error of L, 16 ulp of sum_j |f(x)_j R_j|, divided by 2 eps. A gradient
// that is wrong, zero or swapped fails however small the tensor's values are.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace neat {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double rtol = 1e-6;  // relative to the largest numeric gradient of each checked tensor
  uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = false;
  double worst_ratio = 0;  // max over elements of |analytic - numeric| / allowed; ok iff <= 1
  std::string report;      // names the worst element: tensor, index, analytic, numeric
};

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

GradcheckResult gradcheck(const std::vector<std::pair<std::string, Variable>>& checked,
                          const std::function<Variable()>& f, GradcheckOptions options = {});

}  // namespace neat
