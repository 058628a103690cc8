// The global 2-norm of many tensors and the scaling that clips them to a maximum norm
// (torch.nn.utils.clip_grad_norm_'s two halves), as raw ops that never read device memory on the
// host: the norm is a float64 0-d tensor on the tensors' device, the clip coefficient is computed
// from it where it lies, so a training step queues both without waiting for the GPU.
//
//   Tensor norm = global_norm({g1, g2});                 // sqrt(sum of every element squared)
//   clip_to_norm_({g1, g2}, norm, /*max_norm=*/1.0);     // g *= 1 / (norm + 1e-6) if that is < 1
//   double logged = norm.item();                         // the host read, only when needed
//
// CPU: each tensor's squares summed in double over the threads, tensor after tensor (the sum
// squared_norm in tensor/reduce.h makes). CUDA: one multi-tensor launch over fixed chunks of all
// tensors (tensor/multi_tensor.h), then one block adds the chunks' partial sums in a fixed
// order: the same bits on every run and every GPU. tensor/cpu/grad_norm.h has the CPU reference
// of that chunked sum, which the tests compare with the GPU's bit for bit.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace neat {

// sqrt(sum over the tensors of sum_i x_i^2), a float64 0-d tensor on their common device (an
// error names the op and the two devices otherwise). Float32, float64 and bfloat16 tensors, in
// any mix; empty tensors add nothing; an empty list is an error.
Tensor global_norm(const std::vector<Tensor>& tensors);

// Multiplies every tensor by coef = max_norm / (norm + 1e-6) when coef < 1 (a NaN norm scales
// nothing), coef rounded to the tensor's math type first (as scale_ does). norm: a float64 0-d
// tensor on the tensors' device, read there (global_norm's result).
void clip_to_norm_(const std::vector<Tensor>& tensors, const Tensor& norm, double max_norm);

}  // namespace neat
