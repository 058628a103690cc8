// cuBLASLt opened with dlopen (tensor/cuda/cublaslt_library.cuh says why, and why optional).
#include <dlfcn.h>

#include <string>

#include "tensor/cuda/cublaslt_library.cuh"
#include "tensor/dynamic_symbol.h"

namespace neat::cuda {

namespace {

// The same major version as the headers, found as cuBLAS is (tensor/cuda/cublas_library.cu).
const std::string kLibrary = "libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR);

struct Loaded {
  bool present = false;
  CublasLtLibrary table{};
  std::string absent_reason;
};

template <typename F>
void load(void* library, const char* name, F& function) {
  load_symbol(library, name, function, "cuBLASLt: " + kLibrary);
}

Loaded open_cublaslt() {
  Loaded l;
  void* library = dlopen(kLibrary.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    l.absent_reason = "cannot load " + kLibrary + " (" + dlerror() + ")";
    return l;
  }
  CublasLtLibrary& t = l.table;
  load(library, "cublasLtCreate", t.create);
  load(library, "cublasLtMatmulDescCreate", t.desc_create);
  load(library, "cublasLtMatmulDescDestroy", t.desc_destroy);
  load(library, "cublasLtMatmulDescSetAttribute", t.desc_set);
  load(library, "cublasLtMatrixLayoutCreate", t.layout_create);
  load(library, "cublasLtMatrixLayoutDestroy", t.layout_destroy);
  load(library, "cublasLtMatmulPreferenceCreate", t.preference_create);
  load(library, "cublasLtMatmulPreferenceDestroy", t.preference_destroy);
  load(library, "cublasLtMatmulPreferenceSetAttribute", t.preference_set);
  load(library, "cublasLtMatmulAlgoGetHeuristic", t.heuristic);
  load(library, "cublasLtMatmul", t.matmul);
  l.present = true;
  return l;   // the library stays open for the life of the process
}

const Loaded& loaded() {
  static const Loaded l = open_cublaslt();
  return l;
}

}  // namespace

const CublasLtLibrary* cublaslt_library() {
  return loaded().present ? &loaded().table : nullptr;
}

const std::string& cublaslt_absent_reason() { return loaded().absent_reason; }

}  // namespace neat::cuda
