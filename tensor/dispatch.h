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
#include "tensor/half.h"
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

// A 16-bit float operand of an op with no kernel for it: an error naming the op, the dtype and
// the shape.
[[noreturn]] inline void no_half_kernel(const char* op, const Tensor& t) {
  NEAT_CHECK(false, op, ": no ", dtype_name(t.dtype()), " kernel (", dtype_name(t.dtype()), " ",
             shape_str(t.shape()), "): convert with to(DType::Float32) first");
}

// fn(tag, zero) for float32 / float64 operands; an int64 first operand is an error naming the
// op and its shape, a bfloat16 / float16 one too (no_half_kernel).
template <typename Fn>
void dispatch(Operands operands, const char* op, Fn&& fn) {
  check_same_device(operands, op);
  const KernelTimer timer(op);   // the step profile's "by kernel" table (tensor/profile.h)
  const Tensor& first = operands.begin()->get();
  switch (first.dtype()) {
    case DType::Float32: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, float(0)); }); return;
    case DType::Float64: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, double(0)); }); return;
    case DType::Int64: break;
    case DType::BFloat16:
    case DType::Float16: no_half_kernel(op, first);
  }
  NEAT_CHECK(false, op, ": needs a floating tensor, got int64 ", shape_str(first.shape()));
}

// The same, and bfloat16 too (zero: a bfloat16 of tensor/half.h): the ops with bf16 kernels,
// which read and write bf16 and do their math in float32 (math_t<T>, tensor/half.h). A float16
// first operand is an error naming the op (no_half_kernel).
template <typename Fn>
void dispatch_with_bf16(Operands operands, const char* op, Fn&& fn) {
  const Tensor& first = operands.begin()->get();
  if (first.dtype() != DType::BFloat16) return dispatch(operands, op, fn);
  check_same_device(operands, op);
  const KernelTimer timer(op);
  dispatch_device(first.device(), op, [&](auto dev) { fn(dev, bfloat16::from_bits(0)); });
}

// The same for float32, float64 and int64: ops that only move elements, or add integers.
template <typename Fn>
void dispatch_all_dtypes(Operands operands, const char* op, Fn&& fn) {
  check_same_device(operands, op);
  const KernelTimer timer(op);
  const Tensor& first = operands.begin()->get();
  switch (first.dtype()) {
    case DType::Float32: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, float(0)); }); return;
    case DType::Float64: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, double(0)); }); return;
    case DType::Int64: dispatch_device(first.device(), op, [&](auto dev) { fn(dev, int64_t(0)); }); return;
    case DType::BFloat16:
    case DType::Float16: no_half_kernel(op, first);
  }
}

// dispatch_all_dtypes and bfloat16 too: the ops that move elements (shape ops, expand) and the
// integer-capable ones (add, sub, mul, add_), whose bf16 kernels compute in float32.
template <typename Fn>
void dispatch_all_dtypes_with_bf16(Operands operands, const char* op, Fn&& fn) {
  const Tensor& first = operands.begin()->get();
  if (first.dtype() == DType::BFloat16) return dispatch_with_bf16(operands, op, fn);
  dispatch_all_dtypes(operands, op, fn);
}

// Every dtype, the 16-bit floats included (zero: a bfloat16 / float16 of tensor/half.h): the
// Tensor's own kernels, fill and the converting copy behind to() and clone().
template <typename Fn>
void dispatch_storage_dtypes(Operands operands, const char* op, Fn&& fn) {
  const Tensor& first = operands.begin()->get();
  switch (first.dtype()) {
    case DType::BFloat16: {
      check_same_device(operands, op);
      const KernelTimer timer(op);
      dispatch_device(first.device(), op, [&](auto dev) { fn(dev, bfloat16::from_bits(0)); });
      return;
    }
    case DType::Float16: {
      check_same_device(operands, op);
      const KernelTimer timer(op);
      dispatch_device(first.device(), op, [&](auto dev) { fn(dev, float16::from_bits(0)); });
      return;
    }
    default: dispatch_all_dtypes(operands, op, fn);
  }
}

// One operand: dispatch(x, "exp", ...). (Operands{x}, not {x}: clang resolves a bare {x} to
// this overload itself, an endless recursion.)
template <typename Fn>
void dispatch(const Tensor& x, const char* op, Fn&& fn) { dispatch(Operands{x}, op, fn); }
template <typename Fn>
void dispatch_with_bf16(const Tensor& x, const char* op, Fn&& fn) {
  dispatch_with_bf16(Operands{x}, op, fn);
}
template <typename Fn>
void dispatch_all_dtypes(const Tensor& x, const char* op, Fn&& fn) {
  dispatch_all_dtypes(Operands{x}, op, fn);
}
template <typename Fn>
void dispatch_all_dtypes_with_bf16(const Tensor& x, const char* op, Fn&& fn) {
  dispatch_all_dtypes_with_bf16(Operands{x}, op, fn);
}
template <typename Fn>
void dispatch_storage_dtypes(const Tensor& x, const char* op, Fn&& fn) {
  dispatch_storage_dtypes(Operands{x}, op, fn);
}

}  // namespace neat
