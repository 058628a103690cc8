// The device seam: the one place where a raw op meets a device. A raw op checks shapes and
// allocates once, then hands dispatch a generic lambda; dispatch calls it with the device tag
// of the operands' device and a zero of their element type, and the lambda calls the kernel
// overloaded on that tag (tensor/cpu/<op>.h, or tensor/cuda/<op>.h defined in <op>.cu):
//
//   Tensor y(x.shape(), x.dtype(), x.device());
//   dispatch(x, "exp", [&](auto dev, auto zero) {
//     using T = decltype(zero);                         // float or double
//     unary_forward(dev, UnaryOp::Exp, y.data<T>(), x.data<T>(), x.numel());
//   });                                   // tensor/cpu/elementwise.h | tensor/cuda/elementwise.h
//
// So an op contains no `if (device == ...)`: a kernel missing for a built device is a compile
// error, and a tensor on a device this build has no backend for is a run-time error naming the
// op. The operands listed must all be on one device (an error names the op and both devices;
// undefined ones, such as an absent bias, are skipped); the first one's dtype picks T.
#pragma once
#include "tensor/cpu/device.h"
#include "tensor/cuda/device.h"
#include "tensor/profile.h"
#include "tensor/tensor.h"

namespace neat {

using cpu::Cpu;
using cuda::Cuda;

// Calls fn(tag) for the device; a device without a backend in this build is an error naming op.
template <typename Fn>
void dispatch_device(Device device, const char* op, Fn&& fn) {
  switch (device) {
    case Device::CPU: fn(Cpu{}); return;
    case Device::CUDA:
#ifdef NEAT_CUDA  // the one place the build's backends show: make sets it where nvcc is found
      cuda::set_current_op(op);
      fn(Cuda{});
      return;
#else
      break;
#endif
  }
  NEAT_CHECK(false, op, ": a ", device_name(device), " tensor, but the CUDA backend is not built "
             "(this build runs on the CPU only)");
}

// fn(tag, zero) for float32 / float64 operands; an int64 first operand is an error naming the
// op and its shape.
template <typename Fn>
void dispatch(Operands operands, const char* op, Fn&& fn) {
  check_same_device(operands, op);
  const KernelTimer timer(op);   // the step profile's "by kernel" table (tensor/profile.h)
  const Tensor& first = operands.begin()->get();
  switch (first.dtype()) {
    case DType::Float32: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, float(0)); }); return;
    case DType::Float64: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, double(0)); }); return;
    case DType::Int64: break;
  }
  NEAT_CHECK(false, op, ": needs a floating tensor, got int64 ", shape_str(first.shape()));
}

// The same for every dtype, int64 included: ops that only move elements, or add integers.
template <typename Fn>
void dispatch_all_dtypes(Operands operands, const char* op, Fn&& fn) {
  check_same_device(operands, op);
  const KernelTimer timer(op);
  const Tensor& first = operands.begin()->get();
  switch (first.dtype()) {
    case DType::Float32: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, float(0)); }); return;
    case DType::Float64: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, double(0)); }); return;
    case DType::Int64: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, int64_t(0)); }); return;
  }
}

// One operand: dispatch(x, "exp", ...). (Operands{x}, not {x}: clang resolves a bare {x} to
// this overload itself, an endless recursion.)
template <typename Fn>
void dispatch(const Tensor& x, const char* op, Fn&& fn) { dispatch(Operands{x}, op, fn); }
template <typename Fn>
void dispatch_all_dtypes(const Tensor& x, const char* op, Fn&& fn) {
  dispatch_all_dtypes(Operands{x}, op, fn);
}

}  // namespace neat
