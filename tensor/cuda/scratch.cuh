// A temporary device buffer for the partial results a kernel's first pass hands to its second,
// taken from the caching allocator (tensor/cuda/allocator.cu) and given back when it goes out of
// scope. Giving it back right after the launches that use it are queued is safe: all work runs
// on one stream, in order, so the next op to get the block runs after them.
//
//   Scratch<double> partial(blocks);
//   first_pass<<<blocks, kThreads, 0, stream()>>>(x, n, partial.data());
//   second_pass<<<1, kThreads, 0, stream()>>>(partial.data(), blocks, total);
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/cuda/tensor.h"

namespace neat::cuda {

template <typename T>
class Scratch {
 public:
  explicit Scratch(int64_t n) : data_(static_cast<T*>(allocate(Cuda{}, size_t(n) * sizeof(T)))) {}
  ~Scratch() { release(Cuda{}, data_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() const { return data_; }

 private:
  T* data_;
};

}  // namespace neat::cuda
