// What every CPU kernel shares: the device tag its overloads are chosen by, and the one
// threshold below which an OpenMP loop stays on one thread.
//
// A kernel is a plain function on raw pointers and sizes whose first parameter is the tag:
//   template <typename T> void softmax_forward(Cpu, const T* x, T* y, ...);
// tensor/dispatch.h calls it with a Cpu{} for a CPU tensor (a Cuda{} from tensor/cuda/ once
// that backend is built), so the op's code names no device and a kernel missing for a built
// device is a compile error. Kernels live in namespace neat::cpu, beside the tag, which is
// where an unqualified call `softmax_forward(dev, ...)` finds them (argument-dependent lookup).
#pragma once
#include <cstdint>

namespace neat::cpu {

struct Cpu {};

// Below this many elements (or multiply-adds) a loop stays on one thread: starting threads
// costs more than it saves. Every OpenMP loop in tensor/cpu/ uses it in its `if` clause.
constexpr int64_t kParallelThreshold = int64_t(1) << 15;

}  // namespace neat::cpu
