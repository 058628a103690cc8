// CUDA kernels of the two sparse stages of FourierFT's inverse DFT (tensor/cuda/sparse_idft2.cu);
// the same signatures and math as tensor/cpu/sparse_idft2.h. Pointers are device memory.
//   stage 1:          coef, slot, col [n] -> t [2 slots, in_features]
//   stage 1 adjoint:  r [2 slots, in_features] -> coef_grad [n] (+=)
//   stage 2 basis:    rows [slots] -> basis [out_features, 2 slots]
// T: float, double.
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"

namespace neat::cuda {

template <typename T>
void sparse_idft_rows(Cuda, const T* coef, const int64_t* slot, const int64_t* col, int64_t n,
                      int64_t slots, int64_t in_features, T* t);
template <typename T>
void sparse_idft_rows_adjoint(Cuda, const T* r, const int64_t* slot, const int64_t* col,
                              int64_t n, int64_t slots, int64_t in_features, T* coef_grad);
template <typename T>
void idft_row_basis(Cuda, const int64_t* rows, int64_t slots, int64_t out_features, double scale,
                    T* basis);

}  // namespace neat::cuda
