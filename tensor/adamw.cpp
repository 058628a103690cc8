// AdamW step: checks, then one kernel call over all parameters of one dtype and device
// (tensor/cpu/adamw.h: a loop over the parameters; tensor/cuda/adamw.cu: one launch). The
// update's formula: tensor/adamw_update.h.
#include "tensor/adamw.h"

#include "tensor/adamw_update.h"
#include "tensor/cpu/adamw.h"
#include "tensor/cuda/adamw.h"
#include "tensor/dispatch.h"

namespace neat {

namespace {

void check_like(const Tensor& t, const AdamWParameter& p, const char* what) {
  NEAT_CHECK(t.defined() && t.shape() == p.param.shape() && t.dtype() == p.param.dtype(),
             "adamw_step_: ", what, " of '", p.name, "' is ",
             t.defined() ? shape_str(t.shape()) + " " + dtype_name(t.dtype()) : "undefined",
             ", parameter is ", shape_str(p.param.shape()), " ", dtype_name(p.param.dtype()));
}

}  // namespace

void adamw_step_(const std::vector<AdamWParameter>& params, AdamWBetas betas) {
  for (const AdamWParameter& p : params) {
    NEAT_CHECK(p.param.defined(), "adamw_step_: parameter '", p.name, "' is undefined");
    check_like(p.grad, p, "gradient");
    check_like(p.exp_avg, p, "exp_avg");
    check_like(p.exp_avg_sq, p, "exp_avg_sq");
    check_same_device({p.param, p.grad, p.exp_avg, p.exp_avg_sq}, "adamw_step_");
    NEAT_CHECK(p.step >= 1, "adamw_step_: step ", p.step, " of '", p.name, "' must be >= 1");
  }
  // Runs of consecutive parameters that share a dtype and a device: one kernel call each
  // (a model's parameters are usually one run).
  size_t begin = 0;
  while (begin < params.size()) {
    const Tensor& first = params[begin].param;
    size_t end = begin + 1;
    while (end < params.size() && params[end].param.dtype() == first.dtype() &&
           params[end].param.device() == first.device())
      ++end;
    dispatch(first, "adamw_step_", [&](auto dev, auto zero) {
      using T = decltype(zero);
      std::vector<AdamWTensor<T>> tensors;
      for (size_t i = begin; i < end; ++i) {
        const AdamWParameter& p = params[i];
        tensors.push_back({p.param.data<T>(), p.grad.data<T>(), p.exp_avg.data<T>(),
                           p.exp_avg_sq.data<T>(), p.param.numel(),
                           adamw_scalars<T>(p.lr, p.weight_decay, betas.beta1, betas.beta2,
                                            betas.eps, p.step)});
      }
      adamw_step(dev, tensors.data(), int64_t(tensors.size()));
    });
    begin = end;
  }
}

}  // namespace neat
