// Gradient check of a module's own parameters (and optionally its input), for tests: the
// second form of autograd/gradcheck.h, which perturbs the Variables in place. Everything must
// be float64.
//
//   to_dtype(attention, DType::Float64);
//   auto r = check_module_gradients(attention.named_parameters(), [&] { return attention.forward(x); });
//   CHECK_MESSAGE(r.ok, r.report);
#pragma once
#include "autograd/gradcheck.h"

namespace neat {

using ModuleGradcheckResult = GradcheckResult;

inline GradcheckResult check_module_gradients(
    const std::vector<std::pair<std::string, Variable>>& checked,
    const std::function<Variable()>& forward) {
  return gradcheck(checked, forward);
}

}  // namespace neat
