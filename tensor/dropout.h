// Dropout mask: each element is 0 with probability p, else 1 / (1 - p) (inverted dropout, as
// PyTorch), drawn from the seeded generator so a run is reproducible.
#pragma once
#include "tensor/tensor.h"

namespace neat {

// On `device` (the mask is made where the tensor it multiplies lives).
Tensor dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype = DType::Float32,
                    Device device = Device::CPU);

}  // namespace neat
