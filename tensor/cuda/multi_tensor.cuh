// The device side of a multi-tensor launch (tensor/multi_tensor.h): the per-tensor table in
// device memory and the lookup of the tensor a block's chunk belongs to.
//
//   struct Entry { float* x; int64_t n; int64_t first_chunk; };   // first_chunk: running sum
//   DeviceTable<Entry> table(host_entries);        // queued copy; the host goes on at once
//   kernel<<<unsigned(chunks), kMultiTensorThreads, 0, stream()>>>(table.data(), count, ...);
//   // in the kernel: const Entry& e = table[entry_of_chunk(table, count, blockIdx.x)];
//
// The table travels through page-locked memory (tensor/gpu.h's cuda_allocate_pinned): the copy
// is queued on the stream before the kernel, so a step never waits for it, and the pinned block
// is not handed out again until the copy has read it. Unlike a kernel argument (4 KiB, PyTorch's
// and the former AdamW launch's limit of a few dozen tensors), the table has no size limit, so
// one launch covers every tensor. The device copy comes from the caching allocator and is given
// back when the table goes out of scope, after the launches that read it are queued (safe: one
// stream, in order, tensor/cuda/scratch.cuh).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "tensor/cuda/scratch.cuh"
#include "tensor/gpu.h"
#include "tensor/multi_tensor.h"

namespace neat::cuda {

template <typename Entry>
class DeviceTable {
  static_assert(std::is_trivially_copyable_v<Entry>, "a device table holds plain structs");

 public:
  // host must not be empty.
  explicit DeviceTable(const std::vector<Entry>& host) : device_(int64_t(host.size())) {
    const size_t bytes = host.size() * sizeof(Entry);
    void* pinned = cuda_allocate_pinned(bytes);
    std::memcpy(pinned, host.data(), bytes);
    copy_from_host(Cuda{}, device_.data(), pinned, bytes);   // queued; records the copy's event
    cuda_release_pinned(pinned);
  }
  const Entry* data() const { return device_.data(); }

 private:
  Scratch<Entry> device_;
};

// The entry whose chunks hold `chunk`: the last k with entries[k].first_chunk <= chunk (a binary
// search: the table has no empty tensors, so first_chunk rises strictly).
template <typename Entry>
__device__ inline int64_t entry_of_chunk(const Entry* entries, int64_t count, int64_t chunk) {
  int64_t lo = 0, hi = count - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (entries[mid].first_chunk <= chunk) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

}  // namespace neat::cuda
