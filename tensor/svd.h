// Thin SVD of a matrix, computed in float64 by Householder bidiagonalisation and implicit-shift
// QR (tensor/cpu/svd.h, docs/svd.md), like torch.linalg.svd(a, full_matrices=False):
//
//   Svd d = svd(w);          // w [M, N], K = min(M, N)
//   d.U [M, K], d.S [K] (descending), d.Vh [K, N]:  w = U diag(S) Vh
//
// and the randomized one of torch.svd_lowrank (Halko et al. 2011), the top Q triplets only:
//
//   Generator gen(seed);
//   Svd top = svd_lowrank(w, 8, 4, gen);   // U [M, 8], S [8], Vh [8, N]: 4 power iterations
//
// The results take a's dtype and device (the work is done on the host). Each triplet's sign is
// fixed (the largest-magnitude entry of each U column is positive, the first one on a tie), so
// the result is deterministic, and the same bits for any thread count; LAPACK may differ by
// signs.
#pragma once
#include "tensor/tensor.h"

namespace neat {

struct Svd {
  Tensor U, S, Vh;
};

Svd svd(const Tensor& a);

// An approximation of a's top q singular triplets (1 <= q <= min(M, N)): a Gaussian test matrix
// Omega [N, q] drawn from gen, Y = (A A^T)^niter A Omega with a QR re-orthonormalisation after
// every product, then the exact SVD of the small Q^T A. For a's top r triplets ask for
// q = r + p (p oversampling columns, e.g. 5 to 10) and keep the first r; peft's
// init_lora_weights="pissa_niter_[n]" uses q = r (torch.svd_lowrank(W, q=r, niter=n)).
Svd svd_lowrank(const Tensor& a, int64_t q, int64_t niter, Generator& gen);

}  // namespace neat
