// What programs and tests ask of the GPU, in every build: is there one, what is it, how much
// memory does the caching allocator hold. A CPU-only build (make CUDA=0, or no nvcc) answers
// "none" with the reason (tensor/cuda_absent.cpp); a CUDA build asks the driver
// (tensor/cuda/runtime.cu).
//
//   if (!cuda_available()) return skip(cuda_unavailable_reason());
//   Tensor x = randn({64, 768}, gen).to(Device::CUDA);
//   CudaMemoryStats m = cuda_memory_stats();   // m.allocated, m.reserved, m.peak_allocated, ...
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace neat {

// True when this build has the CUDA backend (made where nvcc was found, without CUDA=0).
bool cuda_built();
// True when this build has the CUDA backend and a GPU is visible.
bool cuda_available();
// Why not, in one line ("this build has no CUDA backend (...)", "no CUDA GPU is visible (...)").
std::string cuda_unavailable_reason();
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)" of the GPU in use; cuda_available() must be true.
std::string cuda_device_description();
// "cuBLAS 13.1.0 (libcublas.so.13), cuBLASLt epilogues": opens cuBLAS and cuBLASLt if no GPU
// use has yet (they are loaded on first use, not linked: tensor/cuda/cublas_library.cuh); an
// error says why cuBLAS cannot be loaded; without cuBLASLt, "no cuBLASLt epilogues: " and why.
std::string cuda_blas_description();

// The caching allocator's figures, in bytes. allocated: held by live tensors; reserved: taken
// from the driver (allocated + cached free blocks); the peaks since start or the last
// cuda_reset_peak_memory(); device_mallocs: how many cudaMalloc calls it made so far.
struct CudaMemoryStats {
  size_t allocated = 0, reserved = 0, peak_allocated = 0, peak_reserved = 0;
  int64_t device_mallocs = 0;
};
CudaMemoryStats cuda_memory_stats();
void cuda_reset_peak_memory();
// Returns the cached free blocks to the driver (like torch.cuda.empty_cache()).
void cuda_empty_cache();
// Waits until every queued kernel and copy has finished (for timing; errors surface here).
void cuda_synchronize();
// Page-locked host memory (cudaHostAlloc, cached like device memory): a copy from it to the GPU
// is queued and returns at once. Tensors made with pinned_empty (tensor.h) use these.
void* cuda_allocate_pinned(size_t bytes);
void cuda_release_pinned(void* data);
// GEMMs in TF32 on tensor cores (float32 storage, 10-bit mantissa products, like PyTorch's
// torch.backends.cuda.matmul.allow_tf32). Off by default.
void cuda_set_allow_tf32(bool allow);
bool cuda_allow_tf32();

}  // namespace neat
