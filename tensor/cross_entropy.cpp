// Cross-entropy on integer labels: log-softmax and the negative log-likelihood in one op, mean
// over the batch, with label smoothing as torch.nn.functional.cross_entropy. Derivation of
// the backward: docs/softmax_cross_entropy.md.
//
//   logits, log_probs, dlogits [N, C]; labels [N] int64; loss 0-d
//   target_i = (1 - eps) onehot(y_i) + eps / C          (eps = label_smoothing)
//   loss = (1/N) sum_i sum_c -target_ic log p_ic
//        = (1/N) sum_i [(1 - eps)(-log p_{i,y_i}) + eps mean_c(-log p_ic)]
//   dlogits_ic = dloss / N (p_ic - target_ic)
#include "tensor/cross_entropy.h"

#include <cmath>
#include <vector>

#include "tensor/dispatch.h"
#include "tensor/softmax.h"

namespace neat {

namespace {

// Below this many elements threads cost more than they save.
constexpr int64_t kParallelMin = int64_t(1) << 15;

// lp [N, C] log-probabilities, labels [N] -> each row's loss in row_loss [N].
template <typename T>
void nll_rows(const T* lp, const int64_t* labels, double* row_loss, int64_t N, int64_t C,
              double eps) {
#pragma omp parallel for schedule(static) if (N * C >= kParallelMin)
  for (int64_t i = 0; i < N; ++i) {
    const T* row = lp + i * C;
    double sum = 0;
    if (eps != 0)
      for (int64_t c = 0; c < C; ++c) sum += row[c];
    row_loss[i] = -(1 - eps) * row[labels[i]] - eps * sum / double(C);
  }
}

// dlogits [N, C] = scale (exp(lp) - target), scale = dloss / N.
template <typename T>
void nll_backward_rows(const T* lp, const int64_t* labels, T* dlogits, int64_t N, int64_t C,
                       double eps, double scale) {
  const double off = eps / double(C), on = 1 - eps + off;
#pragma omp parallel for schedule(static) if (N * C >= kParallelMin)
  for (int64_t i = 0; i < N; ++i) {
    const T* row = lp + i * C;
    T* d = dlogits + i * C;
    for (int64_t c = 0; c < C; ++c)
      d[c] = T(scale * (std::exp(double(row[c])) - (c == labels[i] ? on : off)));
  }
}

void check_labels(const Tensor& labels, int64_t N, int64_t C, const char* op) {
  NEAT_CHECK(labels.dtype() == DType::Int64 && labels.shape() == Shape{N}, op, ": labels ",
             dtype_name(labels.dtype()), " ", shape_str(labels.shape()),
             " must be int64 [", N, "], one per row of the logits");
  const int64_t* y = labels.data<int64_t>();
  for (int64_t i = 0; i < N; ++i)
    NEAT_CHECK(y[i] >= 0 && y[i] < C, op, ": label ", y[i], " at index ", i,
               " is out of range for C = ", C, " classes (want 0 <= label < ", C, ")");
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
  check_labels(labels, N, C, "cross_entropy");

  CrossEntropyForward out;
  out.log_probs = log_softmax(logits, 1);
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
  dispatch_floating(logits, "cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    nll_rows(out.log_probs.data<T>(), labels.data<int64_t>(), row_loss.data(), N, C,
             label_smoothing);
  });
  double total = 0;
  for (double l : row_loss) total += l;  // in row order: the same bits on any thread count
  out.loss = scalar_tensor(total / double(N), logits.dtype());
  return out;
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& log_probs,
                              const Tensor& labels, double label_smoothing) {
  NEAT_CHECK(grad_loss.numel() == 1, "cross_entropy_backward: gradient of the loss ",
             shape_str(grad_loss.shape()), " must have one element");
  NEAT_CHECK(log_probs.dim() == 2, "cross_entropy_backward: log_probs ",
             shape_str(log_probs.shape()), " must be [N, C]");
  const int64_t N = log_probs.size(0), C = log_probs.size(1);
  check_labels(labels, N, C, "cross_entropy_backward");
  const double scale = grad_loss.item() / double(N);
  Tensor dlogits(log_probs.shape(), log_probs.dtype(), log_probs.device());
  dispatch_floating(log_probs, "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    nll_backward_rows(log_probs.data<T>(), labels.data<int64_t>(), dlogits.data<T>(), N, C,
                      label_smoothing, scale);
  });
  return dlogits;
}

}  // namespace neat
