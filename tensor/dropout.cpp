// Dropout mask (inverted dropout, as PyTorch): each element is 0 with probability p, else
// 1 / (1 - p), so the expected value of x * mask is x and evaluation needs no rescaling.
//   mask [shape]; element i is drawn i-th from the generator (row-major), so the same seed
//   gives the same mask on any number of threads.
#include "tensor/dropout.h"

#include "tensor/dispatch.h"

namespace neat {

namespace {

template <typename T>
void dropout_mask_kernel(T* mask, int64_t n, double p, Generator& gen) {
  const T keep = p < 1 ? T(1.0 / (1.0 - p)) : T(0);
  for (int64_t i = 0; i < n; ++i) mask[i] = gen.uniform() < p ? T(0) : keep;
}

}  // namespace

Tensor dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype) {
  NEAT_CHECK(p >= 0 && p <= 1, "dropout: probability ", p, " must be in [0, 1]");
  Tensor mask(shape, dtype);
  dispatch_floating(mask, "dropout", [&](auto zero) {
    using T = decltype(zero);
    dropout_mask_kernel(mask.data<T>(), mask.numel(), p, gen);
  });
  return mask;
}

}  // namespace neat
