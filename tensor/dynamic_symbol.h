// A function of a library opened with dlopen, checked: cuBLAS (tensor/cuda/cublas_library.cu)
// and NCCL (train/distributed_nccl.cpp) are opened at run time rather than linked.
//
//   void* handle = dlopen("libcublas.so.13", RTLD_NOW | RTLD_LOCAL);
//   load_symbol(handle, "cublasCreate_v2", create, "cuBLAS: libcublas.so.13");
#pragma once
#include <dlfcn.h>

#include <string>

#include "tensor/check.h"

namespace neat {

// function = the library's `name`; an error naming the library (`what`) and the function when
// the library has none.
template <typename F>
void load_symbol(void* library, const char* name, F& function, const std::string& what) {
  function = reinterpret_cast<F>(dlsym(library, name));
  NEAT_CHECK(function != nullptr, what, " has no function ", name, " (", dlerror(), ")");
}

}  // namespace neat
