// tensor/gpu.h for a build without the CUDA backend (make CUDA=0, or nvcc not found): there is
// no GPU, and every question about one says why.
#include "tensor/check.h"
#include "tensor/gpu.h"

namespace neat {

bool cuda_built() { return false; }
bool cuda_available() { return false; }
std::string cuda_unavailable_reason() {
  return "this build has no CUDA backend (built with CUDA=0 or without nvcc; rebuild with nvcc "
         "on PATH)";
}
std::string cuda_device_description() {
  NEAT_CHECK(false, "cuda: ", cuda_unavailable_reason());
}
std::string cuda_blas_description() {
  NEAT_CHECK(false, "cuBLAS: ", cuda_unavailable_reason());
}
CudaMemoryStats cuda_memory_stats() { return {}; }
void cuda_reset_peak_memory() {}
void cuda_empty_cache() {}
void cuda_synchronize() {}
void* cuda_allocate_pinned(size_t bytes) {
  NEAT_CHECK(false, "pinned memory: ", cuda_unavailable_reason());
}
void cuda_release_pinned(void* data) {}
void cuda_set_allow_tf32(bool allow) {
  NEAT_CHECK(!allow, "--tf32: ", cuda_unavailable_reason());
}
bool cuda_allow_tf32() { return false; }

}  // namespace neat
