// Dropout mask: each element is 0 with probability p, else 1 / (1 - p) (inverted dropout, as
// PyTorch), drawn from the seeded generator so a run is reproducible.
#pragma once
#include "tensor/tensor.h"

namespace neat {

Tensor dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype = DType::Float32);

}  // namespace neat
