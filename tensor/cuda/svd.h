// The CUDA overload of the float64 Jacobi SVD (tensor/cuda/svd.cu), the signature and meaning of
// tensor/cpu/svd_jacobi.h: a [m, n] (m >= n) -> u [m, n], s [n], v [n, n] with a = u diag(s) v^T,
// all device memory; returns the number of sweeps used.
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"

namespace neat::cuda {

int svd_jacobi(Cuda, const double* a, int64_t m, int64_t n, double* u, double* s, double* v);

}  // namespace neat::cuda
