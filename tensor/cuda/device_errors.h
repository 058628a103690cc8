// CUDA side of tensor/device_errors.h (tensor/cuda/device_errors.cu); the same functions as
// tensor/cpu/device_errors.h. The record is device memory, one for the process's GPU; index
// and x are device memory too.
#pragma once
#include <cstdint>

#include "tensor/cuda/device.h"
#include "tensor/error_slot.h"

namespace neat::cuda {

// The GPU's record, [check, position, value] (check -1 when empty), made on first use.
int64_t* error_record(Cuda);
// out (host) = the record, after every queued kernel has run (one synchronisation); a failure
// found there is cleared on the device.
void take_error_record(Cuda, int64_t* out);
// Records the first of index[0..count) outside [0, size) (the check before index_select,
// index_add, cross-entropy's labels and the embedding gradient's ids).
void record_out_of_range(Cuda, const int64_t* index, int64_t count, int64_t size, ErrorSlot slot);
// Records the first of x[0..count) that is neither 0 nor 1 (its bits as an int64).
void record_not_binary(Cuda, const double* x, int64_t count, ErrorSlot slot);

}  // namespace neat::cuda
