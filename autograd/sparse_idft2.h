// Differentiable real inverse 2-D DFT of a sparse spectrum (FourierFT's Delta W):
//
//   SpectrumPositions pos = spectrum_positions(rows, cols, OUT, IN);   // tensor/sparse_idft2.h
//   Variable delta = sparse_idft2_real(spectrum, pos) * scaling;      // spectrum [n] -> [OUT, IN]
//   // = torch.fft.ifft2(dense_spectrum).real * scaling, as peft's FourierFT
#pragma once
#include "autograd/variable.h"
#include "tensor/sparse_idft2.h"

namespace neat {

Variable sparse_idft2_real(const Variable& spectrum, const SpectrumPositions& positions);

}  // namespace neat
