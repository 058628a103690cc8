// Fused RMS norm over the last dim: checks and allocation here, the kernels (with the math) in
// tensor/cpu/rms_norm.h and tensor/cuda/rms_norm.cu, the derivation of the backward in
// docs/llama.md. A bfloat16 x takes a bfloat16 weight and gives bfloat16 y, dx, dweight; rstd
// is float32 (math_dtype), as the math inside.
#include "tensor/rms_norm.h"

#include "tensor/cpu/rms_norm.h"
#include "tensor/cuda/rms_norm.h"
#include "tensor/dispatch.h"

namespace neat {

namespace {

void check_input(const Tensor& x, const Tensor& weight, const char* op) {
  NEAT_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) > 0, op, ": input ",
             x.defined() ? shape_str(x.shape()) : "undefined", " needs a non-empty last dim");
  NEAT_CHECK(weight.defined() && weight.shape() == Shape{x.size(-1)}, op, ": weight ",
             weight.defined() ? shape_str(weight.shape()) : "undefined", " does not match input ",
             shape_str(x.shape()), " (want [", x.size(-1), "])");
  check_same_dtype(x, weight, op);
}

}  // namespace

RmsNormForward rms_norm_forward(const Tensor& x, const Tensor& weight, double eps) {
  check_input(x, weight, "rms_norm");
  NEAT_CHECK(eps >= 0, "rms_norm: eps must be >= 0, got ", eps);
  const int64_t D = x.size(-1), rows = x.numel() / D;
  RmsNormForward out{Tensor(x.shape(), x.dtype(), x.device()),
                     Tensor({rows}, math_dtype(x.dtype()), x.device())};
  dispatch_with_bf16({x, weight}, "rms_norm", [&](auto dev, auto zero) {
    using T = decltype(zero);
    rms_norm_forward(dev, x.data<T>(), weight.data<T>(), out.y.data<T>(),
                     out.rstd.data<math_t<T>>(),
                     rows, D, eps);
  });
  return out;
}

RmsNormGrads rms_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                               const Tensor& rstd, bool need_x, bool need_weight) {
  const char* op = "rms_norm_backward";
  check_input(x, weight, op);
  NEAT_CHECK(grad_y.shape() == x.shape(), op, ": gradient ", shape_str(grad_y.shape()),
             " and input ", shape_str(x.shape()), " differ in shape");
  check_same_dtype(grad_y, x, op);
  const int64_t D = x.size(-1), rows = x.numel() / D;
  NEAT_CHECK(rstd.defined() && rstd.numel() == rows, op, ": rstd ",
             rstd.defined() ? shape_str(rstd.shape()) : "undefined", " needs ", rows,
             " rows for input ", shape_str(x.shape()));
  NEAT_CHECK(rstd.dtype() == math_dtype(x.dtype()), op, ": rstd ", dtype_name(rstd.dtype()),
             " must be ", dtype_name(math_dtype(x.dtype())), " for a ", dtype_name(x.dtype()),
             " input");
  RmsNormGrads grads;
  if (need_x) grads.x = Tensor(x.shape(), x.dtype(), x.device());
  if (need_weight) grads.weight = Tensor({D}, x.dtype(), x.device());
  if (!need_x && !need_weight) return grads;
  dispatch_with_bf16({x, grad_y, weight, rstd}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    auto out = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
    rms_norm_backward(dev, grad_y.data<T>(), x.data<T>(), weight.data<T>(),
                      rstd.data<math_t<T>>(),
                      out(grads.x), out(grads.weight), rows, D);
  });
  return grads;
}

}  // namespace neat
