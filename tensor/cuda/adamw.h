// CUDA kernel of one AdamW step over many parameters, one launch for all of them
// (tensor/cuda/adamw.cu); the same signature and meaning as tensor/cpu/adamw.h, the update's
// formula in tensor/adamw_update.h.
//   tensors[count] (a host array): param, grad, exp_avg, exp_avg_sq [n] each (device memory),
//   and that parameter's scalars.  T: float, double.
#pragma once
#include <cstdint>

#include "tensor/adamw_update.h"
#include "tensor/cuda/device.h"

namespace neat::cuda {

template <typename T>
void adamw_step(Cuda, const AdamWTensor<T>* tensors, int64_t count);

}  // namespace neat::cuda
