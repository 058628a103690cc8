// CPU side of tensor/device_errors.h: the error record (host memory, one per thread: ops on
// several threads never see each other's failures) and the value checks that write into it.
//   index [count] int64: the first value outside [0, size)  -> (position, value)
//   x [count] double:    the first value neither 0 nor 1    -> (position, the double's bits)
#pragma once
#include <cstdint>
#include <cstring>

#include "tensor/cpu/device.h"
#include "tensor/error_slot.h"

namespace neat::cpu {

// This thread's record, [check, position, value]; check -1 when empty.
inline int64_t* error_record(Cpu) {
  thread_local int64_t record[3] = {-1, -1, -1};
  return record;
}

// out = the record, which is emptied.
inline void take_error_record(Cpu, int64_t* out) {
  int64_t* record = error_record(Cpu{});
  for (int i = 0; i < 3; ++i) out[i] = record[i];
  record[0] = record[1] = record[2] = -1;
}

// The position of the first of index[0..count) outside [0, size), or -1 when all are inside.
inline int64_t first_out_of_range(const int64_t* index, int64_t count, int64_t size) {
  for (int64_t i = 0; i < count; ++i)
    if (index[i] < 0 || index[i] >= size) return i;
  return -1;
}

// Records the first index outside [0, size); true when there is one.
inline bool record_out_of_range(Cpu, const int64_t* index, int64_t count, int64_t size,
                                ErrorSlot slot) {
  const int64_t i = first_out_of_range(index, count, size);
  if (i >= 0) record_error(slot, i, index[i]);
  return i >= 0;
}

// Records the first value that is neither 0 nor 1 (its bits as an int64).
inline void record_not_binary(Cpu, const double* x, int64_t count, ErrorSlot slot) {
  for (int64_t i = 0; i < count; ++i)
    if (x[i] != 0 && x[i] != 1) {
      int64_t bits;
      std::memcpy(&bits, &x[i], sizeof bits);
      record_error(slot, i, bits);
      return;
    }
}

}  // namespace neat::cpu
