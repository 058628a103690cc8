// Converts every parameter of a module (recursively) to another dtype, keeping names,
// requires_grad and the Variables themselves (so typed pointers stay valid). Gradient checks
// build a small model in float32 and run it in float64:
//
//   ViTForImageClassification vit(config);
//   to_dtype(vit, DType::Float64);
#pragma once
#include "nn/module.h"

namespace neat {

void to_dtype(Module& module, DType dtype);

}  // namespace neat
