// CUDA kernels of the Tensor class itself (the counterpart of tensor/cpu/tensor.h): device
// memory from the caching allocator, fill, and the copies behind clone / to / copy_from.
//   allocate / release:  `bytes` of device memory (tensor/cuda/allocator.cu)
//   fill:                x [n] = value
//   copy_convert:        dst [n] = src [n] converted element by element, both on the device
//   copy_to_host:        host dst <- device src, `bytes`; returns when the bytes are there
//   copy_from_host:      device dst <- host src, `bytes`; from pinned memory (tensor/gpu.h's
//                        cuda_allocate_pinned) the copy is queued on the stream and the call
//                        returns at once, from ordinary memory it returns when the data is copied
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/half.h"

namespace neat::cuda {

void* allocate(Cuda, size_t bytes);
void release(Cuda, void* data);

// T: float, double, int64_t, bfloat16, float16 (tensor/half.h).
template <typename T>
void fill(Cuda, T* x, int64_t n, T value);
// Dst, Src: any two of float, double, int64_t, bfloat16, float16 (to a 16-bit float: round to
// nearest even, as on the CPU).
template <typename Dst, typename Src>
void copy_convert(Cuda, Dst* dst, const Src* src, int64_t n);

void copy_to_host(Cuda, void* host_dst, const void* device_src, size_t bytes);
void copy_from_host(Cuda, void* device_dst, const void* host_src, size_t bytes);

}  // namespace neat::cuda
