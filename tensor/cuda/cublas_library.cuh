// cuBLAS, opened with dlopen when the first GPU is set up (tensor/cuda/runtime.cu) instead of
// linked. A linked libcublas loads libcublasLt with it (600 MB of code), whose start-up adds
// ~215 MiB to the resident memory of every process, CPU-only runs of a CUDA build included
// (measured with an empty program: 1 MiB without it, 215 MiB with it).
//
// The functions we call, as a table; their types come from cublas_v2.h, so a changed signature
// is a compile error:
//   NEAT_CUBLAS_CHECK(cublas_library().sgemm(cublas(), ...));
#pragma once
#include <cublas_v2.h>

#include <string>

namespace neat::cuda {

// cublasGemmEx and cublasGemmStridedBatchedEx: bfloat16 operands with float32 compute. Named
// by their types, as cublas_api.h also declares C++ overloads of the same names (an older
// cudaDataType compute type), which decltype(&f) cannot choose between; cublas_library.cu
// checks these types against the declarations.
using GemmExFunction = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t,
                                          int, int, int, const void*, const void*, cudaDataType,
                                          int, const void*, cudaDataType, int, const void*, void*,
                                          cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
using GemmStridedBatchedExFunction = cublasStatus_t (*)(
    cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*, const void*,
    cudaDataType, int, long long, const void*, cudaDataType, int, long long, const void*, void*,
    cudaDataType, int, long long, int, cublasComputeType_t, cublasGemmAlgo_t);

struct CublasLibrary {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasGetProperty) get_property;
  decltype(&cublasSgemm_v2) sgemm;
  decltype(&cublasDgemm_v2) dgemm;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasDgemmStridedBatched) dgemm_strided_batched;
  GemmExFunction gemm_ex;
  GemmStridedBatchedExFunction gemm_strided_batched_ex;
};

// The table, loading libcublas.so.<major> (the version compiled against) on the first call; a
// library or function that cannot be loaded is an error naming it and what dlopen said.
const CublasLibrary& cublas_library();
// The file name cublas_library() opens: "libcublas.so.13".
const std::string& cublas_library_name();

}  // namespace neat::cuda
