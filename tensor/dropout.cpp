// Dropout mask: the check here, the kernel (inverted dropout) in tensor/cpu/dropout.h and
// tensor/cuda/dropout.cu. Element i is the generator's i-th draw after its current state
// (tensor/random.h), so both devices make the same mask; the generator then moves on by n.
#include "tensor/dropout.h"

#include "tensor/cpu/dropout.h"
#include "tensor/cuda/dropout.h"
#include "tensor/dispatch.h"

namespace neat {

Tensor dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype, Device device) {
  NEAT_CHECK(p >= 0 && p <= 1, "dropout: probability ", p, " must be in [0, 1]");
  Tensor mask(shape, dtype, device);
  dispatch_with_bf16(mask, "dropout", [&](auto dev, auto zero) {
    using T = decltype(zero);
    dropout_mask(dev, mask.data<T>(), mask.numel(), p, gen.state());
  });
  gen.skip(uint64_t(mask.numel()));
  return mask;
}

}  // namespace neat
