// Fused layer norm over the last dim, and the residual add fused into it: checks and allocation
// here, the kernels (with the math) in tensor/cpu/layer_norm.h and tensor/cuda/layer_norm.cu,
// the derivation of the backward in docs/layer_norm.md. A bfloat16 x takes bfloat16 weight and bias (the same dtype: a trainable
// weight's float32 master is cast to bf16 once per step by the precision policy) and gives a
// bfloat16 y, dx, dweight, dbias; mean and rstd are float32 (math_dtype), as the math inside.
#include "tensor/layer_norm.h"

#include "tensor/cpu/layer_norm.h"
#include "tensor/cuda/layer_norm.h"
#include "tensor/dispatch.h"

namespace neat {

namespace {

template <typename T> T* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

void check_param(const Tensor& p, const Tensor& x, const char* what) {
  if (!p.defined()) return;
  NEAT_CHECK(p.shape() == Shape{x.size(-1)}, "layer_norm: ", what, " ", shape_str(p.shape()),
             " does not match input ", shape_str(x.shape()), " (want [", x.size(-1), "])");
  check_same_dtype(x, p, "layer_norm");
}

void check_input(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  NEAT_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) > 0, "layer_norm: input ",
             x.defined() ? shape_str(x.shape()) : "undefined", " needs a non-empty last dim");
  check_param(weight, x, "weight");
  check_param(bias, x, "bias");
}

}  // namespace

LayerNormForward layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                    double eps) {
  check_input(x, weight, bias);
  const int64_t D = x.size(-1), rows = x.numel() / D;
  const DType stats = math_dtype(x.dtype());
  LayerNormForward out{Tensor(x.shape(), x.dtype(), x.device()),
                       Tensor({rows}, stats, x.device()), Tensor({rows}, stats, x.device())};
  dispatch_with_bf16({x, weight, bias}, "layer_norm", [&](auto dev, auto zero) {
    using T = decltype(zero);
    using M = math_t<T>;
    layer_norm_forward(dev, x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias),
                       out.y.data<T>(), out.mean.data<M>(), out.rstd.data<M>(), rows, D, eps);
  });
  return out;
}

AddLayerNormForward add_layer_norm_forward(const Tensor& x, const Tensor& residual,
                                           const Tensor& weight, const Tensor& bias, double eps) {
  check_input(x, weight, bias);
  NEAT_CHECK(residual.defined() && residual.shape() == x.shape(), "add_layer_norm: residual ",
             residual.defined() ? shape_str(residual.shape()) : "undefined",
             " must have the input's shape ", shape_str(x.shape()));
  check_same_dtype(x, residual, "add_layer_norm");
  const int64_t D = x.size(-1), rows = x.numel() / D;
  const DType stats = math_dtype(x.dtype());
  AddLayerNormForward out{Tensor(x.shape(), x.dtype(), x.device()),
                          Tensor(x.shape(), x.dtype(), x.device()),
                          Tensor({rows}, stats, x.device()), Tensor({rows}, stats, x.device())};
  dispatch_with_bf16({x, residual, weight, bias}, "add_layer_norm", [&](auto dev, auto zero) {
    using T = decltype(zero);
    using M = math_t<T>;
    add_layer_norm_forward(dev, x.data<T>(), residual.data<T>(), ptr_or_null<T>(weight),
                           ptr_or_null<T>(bias), out.h.data<T>(), out.y.data<T>(),
                           out.mean.data<M>(), out.rstd.data<M>(), rows, D, eps);
  });
  return out;
}

LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool need_x,
                                   bool need_weight, bool need_bias) {
  NEAT_CHECK(grad_y.shape() == x.shape(), "layer_norm_backward: gradient ",
             shape_str(grad_y.shape()), " and input ", shape_str(x.shape()), " differ in shape");
  check_same_dtype(grad_y, x, "layer_norm_backward");
  check_param(weight, x, "weight");
  NEAT_CHECK(!need_weight || weight.defined(), "layer_norm_backward: weight gradient asked for "
             "without a weight");
  const int64_t D = x.size(-1), rows = x.numel() / D;
  NEAT_CHECK(mean.numel() == rows && rstd.numel() == rows, "layer_norm_backward: mean ",
             shape_str(mean.shape()), " and rstd ", shape_str(rstd.shape()), " need ", rows,
             " rows for input ", shape_str(x.shape()));
  NEAT_CHECK(mean.dtype() == math_dtype(x.dtype()) && rstd.dtype() == mean.dtype(),
             "layer_norm_backward: mean ", dtype_name(mean.dtype()), " and rstd ",
             dtype_name(rstd.dtype()), " must be ", dtype_name(math_dtype(x.dtype())),
             " for a ", dtype_name(x.dtype()), " input");
  LayerNormGrads grads;
  if (need_x) grads.x = Tensor(x.shape(), x.dtype(), x.device());
  if (need_weight) grads.weight = Tensor({D}, x.dtype(), x.device());
  if (need_bias) grads.bias = Tensor({D}, x.dtype(), x.device());
  dispatch_with_bf16({x, grad_y, weight, mean, rstd}, "layer_norm_backward",
                     [&](auto dev, auto zero) {
    using T = decltype(zero);
    using M = math_t<T>;
    layer_norm_backward(dev, grad_y.data<T>(), x.data<T>(), ptr_or_null<T>(weight),
                        mean.data<M>(), rstd.data<M>(), ptr_or_null<T>(grads.x),
                        ptr_or_null<T>(grads.weight), ptr_or_null<T>(grads.bias), rows, D);
  });
  return grads;
}

}  // namespace neat
