// The caching allocator for device memory, and the one for pinned (page-locked) host memory.
//
// cudaMalloc and cudaFree are slow (and cudaFree waits for the whole GPU), and a training step
// allocates and frees the same sizes every step. So a freed block is not given back: it goes
// to a free list keyed by size, and the next request of about that size takes it. After the
// first step a steady-state step finds every block it needs there and calls cudaMalloc zero
// times (tests/test_cuda.cpp counts them).
//
// Sizes are rounded up to buckets, so that near sizes share blocks: multiples of 512 bytes
// below 1 MiB, above that a multiple of 1/8 of the size's power of two (at most 12.5% more than
// asked). A request takes the smallest free block at least its size and at most 1/4 larger
// (a small request never pins down a huge block). When cudaMalloc fails, the cache is emptied
// and the call tried once more; then the error says what was asked, held and cached.
//
// All work runs on one stream (runtime.cuh), in order: a block freed by one op and handed to
// the next op can only be touched by kernels queued after every kernel that used it, so no
// event or synchronisation is needed. The pinned allocator is different: the host may write a
// pinned block again while a queued copy still reads it, so each pinned block records an event
// after its last copy to the device and is handed out again only once that event has passed.
#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>

#include "tensor/check.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/tensor.h"
#include "tensor/gpu.h"

namespace neat::cuda {

namespace {

size_t bucket_size(size_t bytes) {
  constexpr size_t kSmall = size_t(1) << 20;
  if (bytes <= kSmall) return (bytes + 511) / 512 * 512 + (bytes == 0 ? 512 : 0);
  size_t power = kSmall;
  while (power * 2 < bytes) power *= 2;
  const size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}

std::string mib(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / (1 << 20));
  return text;
}

class DeviceAllocator {
 public:
  void* allocate(size_t bytes) {
    const size_t size = bucket_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(size);
    void* block = nullptr;
    size_t block_size = size;
    if (it != free_.end() && it->first <= size + size / 4) {
      block = it->second;
      block_size = it->first;
      free_.erase(it);
    } else {
      block = device_malloc(size, bytes);
      stats_.reserved += size;
      stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
    }
    live_[block] = block_size;
    stats_.allocated += block_size;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    return block;
  }

  // Never throws (Storage's destructor calls it): the block only changes lists.
  void release(void* block) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(block);
    if (it == live_.end()) return;
    stats_.allocated -= it->second;
    free_.emplace(it->second, block);
    live_.erase(it);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    free_cached_blocks();
  }

  CudaMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_allocated = stats_.allocated;
    stats_.peak_reserved = stats_.reserved;
  }

 private:
  // cudaMalloc, emptying the cache once if the GPU is full. The caller holds the lock.
  void* device_malloc(size_t size, size_t asked) {
    stream();  // a clear error when there is no GPU
    void* block = nullptr;
    ++stats_.device_mallocs;
    cudaError_t e = cudaMalloc(&block, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      free_cached_blocks();
      e = cudaMalloc(&block, size);
    }
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      NEAT_CHECK(false, "cuda: out of GPU memory allocating ", mib(asked), " (tensors hold ",
                 mib(stats_.allocated), ", the GPU has ", mib(free_bytes), " free of ",
                 mib(total_bytes), "); try a smaller --batch-size or --image-size");
    }
    NEAT_CUDA_CHECK(e);
    return block;
  }

  void free_cached_blocks() {
    for (auto& [size, block] : free_) {
      cudaFree(block);  // waits for the GPU; errors here would only repeat an earlier one
      stats_.reserved -= size;
    }
    free_.clear();
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> free_;          // size -> cached free block
  std::unordered_map<void*, size_t> live_;     // block in use -> its size
  CudaMemoryStats stats_;
};

// Never destroyed: tensors may be freed by static destructors after this file's would run.
DeviceAllocator& device_allocator() {
  static DeviceAllocator* allocator = new DeviceAllocator;
  return *allocator;
}

class PinnedAllocator {
 public:
  void* allocate(size_t bytes) {
    const size_t size = bucket_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = free_.lower_bound(size); it != free_.end() && it->first <= size + size / 4; ++it) {
      Block block = it->second;
      if (cudaEventQuery(block.last_copy) != cudaSuccess) continue;  // a copy still reads it
      free_.erase(it);
      live_[block.data] = block;
      return block.data;
    }
    NEAT_CHECK(cuda_available(), "pinned memory: ", cuda_unavailable_reason());
    Block block;
    block.size = size;
    NEAT_CUDA_CHECK(cudaHostAlloc(&block.data, size, cudaHostAllocDefault));
    NEAT_CUDA_CHECK(cudaEventCreateWithFlags(&block.last_copy, cudaEventDisableTiming));
    live_[block.data] = block;
    return block.data;
  }

  void release(void* data) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(data);
    if (it == live_.end()) return;
    free_.emplace(it->second.size, it->second);
    live_.erase(it);
  }

  // True when host_src lies in a live pinned block; then the copy's event is recorded on it.
  bool record_copy(const void* host_src) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(const_cast<void*>(host_src));
    if (it == live_.end()) return false;
    NEAT_CUDA_CHECK(cudaEventRecord(it->second.last_copy, stream()));
    return true;
  }

 private:
  struct Block {
    void* data = nullptr;
    size_t size = 0;
    cudaEvent_t last_copy = nullptr;
  };
  std::mutex mutex_;
  std::multimap<size_t, Block> free_;
  std::unordered_map<void*, Block> live_;
};

PinnedAllocator& pinned_allocator() {
  static PinnedAllocator* allocator = new PinnedAllocator;
  return *allocator;
}

}  // namespace

void* allocate(Cuda, size_t bytes) { return device_allocator().allocate(bytes); }
void release(Cuda, void* data) { device_allocator().release(data); }

void copy_to_host(Cuda, void* host_dst, const void* device_src, size_t bytes) {
  if (bytes == 0) return;
  NEAT_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, bytes, cudaMemcpyDeviceToHost, stream()));
  NEAT_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_from_host(Cuda, void* device_dst, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  NEAT_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, stream()));
  // From pageable memory the source may be freed once this returns: wait for the copy.
  if (!pinned_allocator().record_copy(host_src)) NEAT_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

}  // namespace neat::cuda

namespace neat {

CudaMemoryStats cuda_memory_stats() { return cuda::device_allocator().stats(); }
void cuda_reset_peak_memory() { cuda::device_allocator().reset_peak(); }
void cuda_empty_cache() { cuda::device_allocator().empty_cache(); }

void* cuda_allocate_pinned(size_t bytes) { return cuda::pinned_allocator().allocate(bytes); }
void cuda_release_pinned(void* data) { cuda::pinned_allocator().release(data); }

}  // namespace neat
