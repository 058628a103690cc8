// CPU kernels of the Tensor class itself: memory, fill, and the copy behind clone / to / copy_from.
//   allocate / release: `bytes` of 64-byte aligned host memory (so the SIMD kernels may use
//                       aligned loads on fresh tensors); freed memory stays in the process
//                       for the next step (keep_freed_memory)
//   fill:               x [n] = value
//   copy_convert:       dst [n] = src [n] converted element by element (a memcpy when the types
//                       match; to a 16-bit float: round to nearest even, tensor/half.h)
//   copy_to_host / copy_from_host: `bytes` between this device and the host, which for the CPU
//                       is a memcpy (the counterparts of tensor/cuda/tensor.h's; the seam needs
//                       one for every device, though copy_from never calls the CPU's)
#pragma once
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "tensor/check.h"
#include "tensor/cpu/device.h"
#include "tensor/half.h"

namespace neat::cpu {

// glibc hands a freed block above its mmap threshold (128 KiB, rising with the frees it sees)
// back to the system at once, and trims the top of its heap: the next step's tensors of the
// same sizes then fault their pages in again, zeroed by the kernel (3.5 us a 4 KiB page in this
// project's VMs: ~50 ms of a ViT-B layer's 800 ms step, docs/performance.md). The first
// allocation sets the threshold to glibc's largest (32 MiB) and the trim threshold to 1 GiB, so
// steady-state steps reuse the memory freed by the step before.
inline bool keep_freed_memory() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  return true;
}

inline void* allocate(Cpu, size_t bytes) {
  static const bool kept = keep_freed_memory();
  (void)kept;
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* data = std::aligned_alloc(64, rounded ? rounded : 64);
  NEAT_CHECK(data != nullptr, "Tensor: out of memory allocating ", bytes, " bytes");
  return data;
}

inline void release(Cpu, void* data) { std::free(data); }

template <typename T>
void fill(Cpu, T* x, int64_t n, T value) {
  for (int64_t i = 0; i < n; ++i) x[i] = value;
}

template <typename Dst, typename Src>
void copy_convert(Cpu, Dst* dst, const Src* src, int64_t n) {
  if constexpr (std::is_same_v<Dst, Src>) {
    if (n > 0) std::memcpy(dst, src, size_t(n) * sizeof(Dst));
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = convert_value<Dst>(src[i]);
  }
}

inline void copy_to_host(Cpu, void* host_dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(host_dst, src, bytes);
}
inline void copy_from_host(Cpu, void* dst, const void* host_src, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, host_src, bytes);
}

}  // namespace neat::cpu
