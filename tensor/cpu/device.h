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

// The widest column block of for_column_blocks: a kernel may keep one block's sums on its stack.
constexpr int64_t kColumnBlock = 256;

// Runs body(o, j0, j1) for every row o < outer of an [outer, inner] output and every block
// [j0, j1) of kColumnBlock of its columns, the (row, block) pairs spread over the threads when
// `work` (the elements the loop touches) reaches kParallelThreshold. A row of one block is written by
// one thread only, so kernels that add into rows (sums, index_add) need no atomics, and a
// single wide row (outer = 1) still spreads over the threads.
template <typename Body>
void for_column_blocks(int64_t outer, int64_t inner, int64_t work, const Body& body) {
  const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (work >= kParallelThreshold)
  for (int64_t task = 0; task < outer * blocks; ++task) {
    const int64_t o = task / blocks, j0 = (task % blocks) * kColumnBlock;
    body(o, j0, std::min(inner, j0 + kColumnBlock));
  }
}

}  // namespace neat::cpu
