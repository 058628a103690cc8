// The real part of the 2-D inverse DFT of a sparse spectrum (FourierFT, docs/fourierft.md):
//
//   dense [O, I] zero except dense[rows[k], cols[k]] = coef[k]    (positions distinct)
//   sparse_idft2_real(coef, positions) = Re(ifft2(dense))          [O, I]
//     = 1/(O I) sum_k coef[k] cos(2 pi (rows[k] p / O + cols[k] q / I))
//
// as torch.fft.ifft2(dense).real, computed without the dense spectrum: O(n I) for the sparse
// rows, then one GEMM [O, 2U] x [2U, I] over the U <= min(n, O) distinct rows.
//
//   SpectrumPositions pos = spectrum_positions(rows, cols, O, I);   // int64 [n] each
//   Tensor dw = sparse_idft2_real(coef, pos);                       // [O, I]
//   Tensor dcoef = sparse_idft2_real_backward(grad_dw, pos);        // [n], the adjoint
#pragma once
#include "tensor/tensor.h"

namespace neat {

struct SpectrumPositions {
  int64_t out_features = 0, in_features = 0;   // O, I
  Tensor rows, cols;       // int64 [n]
  Tensor slot;             // int64 [n]: index of rows[k] among the distinct rows
  Tensor distinct_rows;    // int64 [U], in order of first appearance
  int64_t count() const { return rows.numel(); }
};

// Checks that positions are in range and distinct, and groups their rows.
SpectrumPositions spectrum_positions(const Tensor& rows, const Tensor& cols, int64_t out_features,
                                     int64_t in_features);
Tensor sparse_idft2_real(const Tensor& coef, const SpectrumPositions& positions);
// grad [O, I] -> [n]: d/dcoef of sum(grad * sparse_idft2_real(coef)).
Tensor sparse_idft2_real_backward(const Tensor& grad, const SpectrumPositions& positions);

}  // namespace neat
