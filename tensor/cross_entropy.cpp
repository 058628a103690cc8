// Cross-entropy on integer labels: log-softmax and the negative log-likelihood in one op, mean
// over the batch, with label smoothing as torch.nn.functional.cross_entropy. Checks and
// allocation here, the kernels (with the math) in tensor/cpu/cross_entropy.h and
// tensor/cuda/cross_entropy.cu, the derivation of the backward in docs/softmax_cross_entropy.md.
//
//   logits, log_probs, dlogits [N, C]; labels [N] int64; loss 0-d
// bfloat16 logits: log_probs and the loss float32, dlogits bfloat16 (tensor/cross_entropy.h).
#include "tensor/cross_entropy.h"

#include <type_traits>

#include "tensor/cpu/cross_entropy.h"
#include "tensor/cuda/cross_entropy.h"
#include "tensor/device_errors.h"
#include "tensor/dispatch.h"
#include "tensor/softmax.h"

namespace neat {

namespace {

// Labels must be int64 [N]; their values are checked by the kernels, into the device's error
// record (tensor/device_errors.h: at once on the CPU, deferred on CUDA in a training loop).
void check_labels(const Tensor& labels, int64_t N, const char* op) {
  NEAT_CHECK(labels.dtype() == DType::Int64 && labels.shape() == Shape{N}, op, ": labels ",
             dtype_name(labels.dtype()), " ", shape_str(labels.shape()),
             " must be int64 [", N, "], one per row of the logits");
}

}  // namespace

CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                          double label_smoothing) {
  NEAT_CHECK(logits.defined() && labels.defined(), "cross_entropy: an input is undefined");
  NEAT_CHECK(logits.dim() == 2 && logits.size(0) > 0 && logits.size(1) > 0,
             "cross_entropy: logits ", shape_str(logits.shape()), " must be [N, C], N, C > 0");
  NEAT_CHECK(label_smoothing >= 0 && label_smoothing <= 1,
             "cross_entropy: label_smoothing ", label_smoothing, " must be in [0, 1]");
  const int64_t N = logits.size(0), C = logits.size(1);
  check_labels(labels, N, "cross_entropy");

  CrossEntropyForward out;
  // A 16-bit logit is widened first: the log-probabilities keep float32's precision for the
  // loss and the backward's exp (a bf16 log p of -20 would be off by up to 0.08).
  const DType math = math_dtype(logits.dtype());
  out.log_probs = log_softmax(logits.dtype() == math ? logits : logits.to(math), 1);
  out.loss = Tensor({}, math, logits.device());
  DeviceCheck check(logits.device(), CheckedValue::label("cross_entropy", C));
  dispatch({out.log_probs, labels}, "cross_entropy", [&](auto dev, auto zero) {
    using T = decltype(zero);
    cross_entropy_forward(dev, out.log_probs.data<T>(), labels.data<int64_t>(),
                          out.loss.data<T>(), check.slot(), N, C, label_smoothing);
  });
  check.done();
  return out;
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& log_probs,
                              const Tensor& labels, double label_smoothing) {
  return cross_entropy_backward(grad_loss, log_probs, labels, label_smoothing, log_probs.dtype());
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& log_probs,
                              const Tensor& labels, double label_smoothing, DType logits_dtype) {
  NEAT_CHECK(grad_loss.numel() == 1, "cross_entropy_backward: gradient of the loss ",
             shape_str(grad_loss.shape()), " must have one element");
  NEAT_CHECK(log_probs.dim() == 2, "cross_entropy_backward: log_probs ",
             shape_str(log_probs.shape()), " must be [N, C]");
  check_same_dtype(log_probs, grad_loss, "cross_entropy_backward");
  const int64_t N = log_probs.size(0), C = log_probs.size(1);
  check_labels(labels, N, "cross_entropy_backward");
  NEAT_CHECK(logits_dtype == log_probs.dtype() ||
             (logits_dtype == DType::BFloat16 && log_probs.dtype() == DType::Float32),
             "cross_entropy_backward: ", dtype_name(logits_dtype), " logits with ",
             dtype_name(log_probs.dtype()), " log_probs (want the same dtype, or float32 "
             "log_probs for bfloat16 logits)");
  Tensor dlogits(log_probs.shape(), logits_dtype, log_probs.device());
  DeviceCheck check(log_probs.device(), CheckedValue::label("cross_entropy_backward", C));
  dispatch({log_probs, grad_loss, labels}, "cross_entropy_backward", [&](auto dev, auto zero) {
    using T = decltype(zero);
    auto run = [&](auto dlogits_zero) {   // dlogits' element type D
      using D = decltype(dlogits_zero);
      cross_entropy_backward(dev, grad_loss.data<T>(), log_probs.data<T>(),
                             labels.data<int64_t>(), dlogits.data<D>(),
                             check.slot(), N, C, label_smoothing);
    };
    if constexpr (std::is_same_v<T, float>)
      if (logits_dtype == DType::BFloat16) return run(bfloat16::from_bits(0));
    run(zero);
  });
  check.done();
  return dlogits;
}

}  // namespace neat
