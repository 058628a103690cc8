// cuBLAS opened with dlopen (tensor/cuda/cublas_library.cuh says why).
#include <dlfcn.h>

#include <string>
#include <type_traits>

#include "tensor/check.h"
#include "tensor/cuda/cublas_library.cuh"
#include "tensor/cuda/cublaslt_library.cuh"
#include "tensor/dynamic_symbol.h"
#include "tensor/gpu.h"

namespace neat::cuda {

namespace {

// The declarations the two Ex function types must match (unevaluated: nothing is linked).
static_assert(std::is_same_v<decltype(static_cast<GemmExFunction>(&cublasGemmEx)),
                             GemmExFunction>);
static_assert(std::is_same_v<decltype(static_cast<GemmStridedBatchedExFunction>(
                                 &cublasGemmStridedBatchedEx)),
                             GemmStridedBatchedExFunction>);

// The same major version as the headers, found through the programs' run path (the Makefile's
// -rpath to the CUDA libraries) or the usual library search.
const std::string kLibrary = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);

template <typename F>
void load(void* library, const char* name, F& function) {
  load_symbol(library, name, function, "cuBLAS: " + kLibrary);
}

CublasLibrary open_cublas() {
  void* library = dlopen(kLibrary.c_str(), RTLD_NOW | RTLD_LOCAL);
  NEAT_CHECK(library != nullptr, "cuBLAS: cannot load ", kLibrary, " (", dlerror(),
             "); it comes with the CUDA toolkit this program was built with");
  CublasLibrary l;
  load(library, "cublasCreate_v2", l.create);
  load(library, "cublasSetStream_v2", l.set_stream);
  load(library, "cublasSetMathMode", l.set_math_mode);
  load(library, "cublasGetStatusString", l.status_string);
  load(library, "cublasGetProperty", l.get_property);
  load(library, "cublasSgemm_v2", l.sgemm);
  load(library, "cublasDgemm_v2", l.dgemm);
  load(library, "cublasSgemmStridedBatched", l.sgemm_strided_batched);
  load(library, "cublasDgemmStridedBatched", l.dgemm_strided_batched);
  load(library, "cublasGemmEx", l.gemm_ex);
  load(library, "cublasGemmStridedBatchedEx", l.gemm_strided_batched_ex);
  return l;   // the library stays open for the life of the process
}

}  // namespace

const CublasLibrary& cublas_library() {
  static const CublasLibrary library = open_cublas();
  return library;
}

const std::string& cublas_library_name() { return kLibrary; }

}  // namespace neat::cuda

namespace neat {

std::string cuda_blas_description() {
  const cuda::CublasLibrary& l = cuda::cublas_library();
  int version[3] = {0, 0, 0};
  const libraryPropertyType parts[3] = {MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL};
  for (int i = 0; i < 3; ++i)
    NEAT_CHECK(l.get_property(parts[i], &version[i]) == CUBLAS_STATUS_SUCCESS,
               "cuBLAS: cublasGetProperty failed in ", cuda::cublas_library_name());
  const std::string lt = cuda::cublaslt_library() != nullptr
                            ? "cuBLASLt epilogues"
                            : "no cuBLASLt epilogues: " + cuda::cublaslt_absent_reason();
  return "cuBLAS " + std::to_string(version[0]) + "." + std::to_string(version[1]) + "." +
         std::to_string(version[2]) + " (" + cuda::cublas_library_name() + "), " + lt;
}

}  // namespace neat
