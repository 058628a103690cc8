// The CUDA runtime state of the process: whether a GPU is there, the one stream, the cuBLAS
// handle, the name of the running op for error messages, and tensor/gpu.h's questions.
// Device 0 is used; the state is created on first use and never torn down (kernels may still
// run while static destructors do, and the driver frees everything at exit).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tensor/check.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/gpu.h"

namespace neat::cuda {

namespace {

thread_local const char* current_op = "cuda";

struct Runtime {
  bool available = false;
  std::string why_not;    // when not available
  std::string description;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  bool allow_tf32 = false;
};

// Asks the driver once. No GPU (or no driver) is an answer, not an error.
Runtime& runtime_state() {
  static Runtime* state = [] {
    auto* r = new Runtime;
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
      cudaGetLastError();  // clear it: the process goes on without a GPU
      // Without an NVIDIA driver at all the runtime reports an "insufficient" driver.
      const std::string what = e == cudaSuccess ? "the driver reports 0 devices"
                               : e == cudaErrorInsufficientDriver
                                   ? std::string(cudaGetErrorString(e)) +
                                         ": no NVIDIA driver here, or one too old for this CUDA"
                                   : cudaGetErrorString(e);
      r->why_not = "no CUDA GPU is visible (" + what + ")";
      return r;
    }
    cudaDeviceProp prop;
    NEAT_CUDA_CHECK(cudaSetDevice(0));
    NEAT_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    char text[640];
    std::snprintf(text, sizeof text, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
                  double(prop.totalGlobalMem) / (1u << 30));
    r->description = text;
    NEAT_CUDA_CHECK(cudaStreamCreateWithFlags(&r->stream, cudaStreamNonBlocking));
    NEAT_CUBLAS_CHECK(cublas_library().create(&r->cublas));
    NEAT_CUBLAS_CHECK(cublas_library().set_stream(r->cublas, r->stream));
    NEAT_CUBLAS_CHECK(cublas_library().set_math_mode(r->cublas, CUBLAS_DEFAULT_MATH));
    r->available = true;
    return r;
  }();
  return *state;
}

// The state of a usable GPU; without one, an error that says why (one line).
Runtime& usable() {
  Runtime& r = runtime_state();
  NEAT_CHECK(r.available, current_op, ": a CUDA tensor, but ", r.why_not);
  return r;
}

}  // namespace

void set_current_op(const char* op) { current_op = op; }

cudaStream_t stream() { return usable().stream; }
cublasHandle_t cublas() { return usable().cublas; }

void fail(const char* call, const char* error, const char* file, int line) {
  const bool blocking = std::getenv("CUDA_LAUNCH_BLOCKING") != nullptr;
  throw_error(file, line, current_op, ": CUDA call ", call, " failed: ", error,
              blocking ? "" : " (kernels run asynchronously: the failing kernel may belong to an "
                              "earlier op; rerun with CUDA_LAUNCH_BLOCKING=1 to name it)");
}

}  // namespace neat::cuda

namespace neat {

bool cuda_built() { return true; }
bool cuda_available() { return cuda::runtime_state().available; }
std::string cuda_unavailable_reason() { return cuda::runtime_state().why_not; }
std::string cuda_device_description() { return cuda::usable().description; }

void cuda_synchronize() {
  if (cuda_available()) NEAT_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
}

void cuda_set_allow_tf32(bool allow) {
  cuda::Runtime& r = cuda::usable();
  r.allow_tf32 = allow;
  NEAT_CUBLAS_CHECK(cuda::cublas_library().set_math_mode(r.cublas, allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}
bool cuda_allow_tf32() { return cuda_available() && cuda::runtime_state().allow_tf32; }

}  // namespace neat
