// What every CUDA kernel shares, seen from plain C++: the device tag its overloads are chosen
// by. Each tensor/cuda/<op>.h declares that op's kernels (no CUDA header needed, so the op's
// .cpp compiles with g++), and tensor/cuda/<op>.cu defines them for float and double.
//
//   template <typename T>
//   void softmax_forward(Cuda, const T* x, T* y, int64_t outer, int64_t n, int64_t inner);
//
// tensor/dispatch.h calls a kernel with a Cuda{} for a CUDA tensor (CUDA builds only), and an
// unqualified call `softmax_forward(dev, ...)` finds it here, in namespace neat::cuda, by
// argument-dependent lookup, just as the CPU's in neat::cpu. Pointers are device memory.
#pragma once

namespace neat::cuda {

struct Cuda {};

// The raw op now running (set by dispatch), so a CUDA error can name it.
void set_current_op(const char* op);

}  // namespace neat::cuda
