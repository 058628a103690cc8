// Where a kernel reports the first bad value it finds (an index outside its dim, a label
// outside [0, C), a mask value that is neither 0 nor 1), on both devices: three int64 in the
// device's own memory, [check, position, value], check < 0 while nothing is recorded. The
// first failure stays: a later one (another op's, or another thread's) leaves it as it is.
// tensor/device_errors.h owns the record, says when it is read and turns it into the message.
//
//   // a CPU kernel; a CUDA check kernel does the same in one thread, after a block minimum
//   for (int64_t i = 0; i < count; ++i)
//     if (index[i] < 0 || index[i] >= size) { record_error(slot, i, index[i]); return; }
#pragma once
#include <cstdint>

#include "tensor/host_device.h"

namespace neat {

struct ErrorSlot {
  int64_t* record = nullptr;   // [check, position, value] in the kernel's device memory
  int64_t check = 0;           // what this op checks (an id of tensor/device_errors.h)
};

// True once any check has failed into the record (a kernel then skips what a bad value would
// make it read out of bounds; its output is thrown away with the error).
NEAT_HOST_DEVICE inline bool error_recorded(ErrorSlot slot) { return slot.record[0] >= 0; }

// Records (position, value) for slot.check unless an earlier failure is already there.
NEAT_HOST_DEVICE inline void record_error(ErrorSlot slot, int64_t position, int64_t value) {
  if (slot.record[0] >= 0) return;
  slot.record[1] = position;
  slot.record[2] = value;
  slot.record[0] = slot.check;
}

}  // namespace neat
