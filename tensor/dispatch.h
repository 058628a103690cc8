// From a runtime DType to a C++ element type: calls fn with a value of that type, so one
// generic lambda serves every dtype an op supports.
//
//   dispatch_floating(x, "exp", [&](auto zero) {
//     using T = decltype(zero);                       // float or double
//     cpu::map_contiguous(y.data<T>(), x.data<T>(), x.numel(), [](T v) { return exp_forward(v); });
//   });
#pragma once
#include "tensor/tensor.h"

namespace neat {

// float32 / float64; an int64 tensor is an error naming the op and the shape.
template <typename Fn>
void dispatch_floating(const Tensor& t, const char* op, Fn&& fn) {
  switch (t.dtype()) {
    case DType::Float32: fn(float(0)); return;
    case DType::Float64: fn(double(0)); return;
    case DType::Int64: break;
  }
  NEAT_CHECK(false, op, ": needs a floating tensor, got int64 ", shape_str(t.shape()));
}

// Every dtype.
template <typename Fn>
void dispatch_all(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: fn(float(0)); return;
    case DType::Float64: fn(double(0)); return;
    case DType::Int64: fn(int64_t(0)); return;
  }
}

}  // namespace neat
