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
#include <algorithm>
#include <cstdint>

namespace neat::cpu {

struct Cpu {};

// Below this many elements (or multiply-adds) a loop stays on one thread: starting threads
// costs more than it saves. Every OpenMP loop in tensor/cpu/ uses it in its `if` clause.
constexpr int64_t kParallelThreshold = int64_t(1) << 15;

// Runs body(o, j0, j1) for every row o < outer of an [outer, inner] output and every block
// [j0, j1) of 256 of its columns, the (row, block) pairs spread over the threads when `work`
// (the elements the loop touches) reaches kParallelThreshold. A row of one block is written by
// one thread only, so kernels that add into rows (sums, index_add) need no atomics, and a
// single wide row (outer = 1) still spreads over the threads.
template <typename Body>
void for_column_blocks(int64_t outer, int64_t inner, int64_t work, const Body& body) {
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (work >= kParallelThreshold)
  for (int64_t task = 0; task < outer * blocks; ++task) {
    const int64_t o = task / blocks, j0 = (task % blocks) * kBlock;
    body(o, j0, std::min(inner, j0 + kBlock));
  }
}

}  // namespace neat::cpu
