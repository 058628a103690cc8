// cuBLASLt, opened with dlopen like cuBLAS (tensor/cuda/cublas_library.cuh says why nothing of
// cuBLAS is linked), for the GEMMs with an epilogue (tensor/cuda/cublaslt.cuh). libcublas.so
// itself depends on libcublasLt.so of the same version, so once cuBLAS is open this adds no
// code and no memory. Unlike cuBLAS, cuBLASLt is optional: when it cannot be opened the
// epilogue GEMMs fall back to cuBLAS plus a separate pass.
//
//   if (const CublasLtLibrary* lt = cublaslt_library())
//     NEAT_CUBLAS_CHECK(lt->matmul(handle, desc, &alpha, A, a_layout, ...));
#pragma once
#include <cublasLt.h>

#include <string>

namespace neat::cuda {

// The functions we call; their types come from cublasLt.h, so a changed signature is a compile
// error.
struct CublasLtLibrary {
  decltype(&cublasLtCreate) create;
  decltype(&cublasLtMatmulDescCreate) desc_create;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set;
  decltype(&cublasLtMatrixLayoutCreate) layout_create;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy;
  decltype(&cublasLtMatmulPreferenceCreate) preference_create;
  decltype(&cublasLtMatmulPreferenceDestroy) preference_destroy;
  decltype(&cublasLtMatmulPreferenceSetAttribute) preference_set;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic;
  decltype(&cublasLtMatmul) matmul;
};

// The table, loading libcublasLt.so.<major> (the version compiled against) on the first call;
// null when that library cannot be opened (cublaslt_absent_reason() then says why). A library
// that opens but lacks one of the functions is an error naming it.
const CublasLtLibrary* cublaslt_library();
// Why cublaslt_library() is null ("" when it is not): the file name and what dlopen said.
const std::string& cublaslt_absent_reason();

}  // namespace neat::cuda
