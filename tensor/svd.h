// Thin SVD of a matrix, computed in float64 by one-sided Jacobi (tensor/cpu/svd_jacobi.h,
// docs/svd.md), like torch.linalg.svd(a, full_matrices=False):
//
//   Svd d = svd(w);          // w [M, N], K = min(M, N)
//   d.U [M, K], d.S [K] (descending), d.Vh [K, N]:  w = U diag(S) Vh
//
// The results take a's dtype. Each triplet's sign is fixed (the largest-magnitude entry of
// each U column is positive), so the result is deterministic; LAPACK may differ by signs.
#pragma once
#include "tensor/tensor.h"

namespace neat {

struct Svd {
  Tensor U, S, Vh;
};

Svd svd(const Tensor& a);

}  // namespace neat
