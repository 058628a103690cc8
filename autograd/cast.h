// Differentiable dtype conversion: the seam of mixed precision (train/precision.h). A float32
// master parameter enters a bf16 forward through it, and its gradient comes back as float32.
//
//   Variable w16 = to_dtype(w, DType::BFloat16);   // w float32, requiring grad
//   Variable y = linear(x16, w16, b16);            // bf16 activations
//   // backward: w.grad() is float32, dw16 rounded to bf16 widened back
//   Variable w_like_x = in_dtype_of(w, x16);       // w, or to_dtype(w, x16.dtype())
#pragma once
#include "autograd/variable.h"

namespace neat {

// y = x converted to dtype (Tensor::to: round to nearest even when narrowing; the same tensor,
// uncopied, when x already has it). Backward: dx = dy converted back to x's dtype.
Variable to_dtype(const Variable& x, DType dtype);

// A parameter as an op with input x reads it: the parameter itself when it has x's dtype (a
// frozen weight stored in bf16, or any float32 run), else to_dtype(param, x.dtype()) (a float32
// master in a bf16 forward). Undefined stays undefined.
Variable in_dtype_of(const Variable& param, const Variable& x);

}  // namespace neat
