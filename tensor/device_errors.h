// Checks of index, label and mask values whose answer stays on the tensor's device until the
// host asks for it. The kernels of index_select, index_add, cross_entropy, embedding_backward and
// the checks below record the first bad value in their device's error record
// (tensor/error_slot.h: check, position, value); the host turns the record into the error text.
//
// On the CPU an op reads the record at once (host memory: it costs nothing). On CUDA an op reads
// it at once too (a synchronisation, as item() is), except inside a DeferDeviceChecks scope:
// there nothing waits, and check_device_errors() reads the record, which a training loop calls
// once per logging interval, at the end of each epoch and before it writes a checkpoint
// (train/trainer.cpp). A bad label in a CUDA run then stops it with the same message as on the
// CPU, at most one logging interval late; the ops in between computed garbage that is thrown away.
//
//   // a raw op (tensor/shape_ops.cpp)
//   DeviceCheck check(x.device(), CheckedValue::index("index_select", x.shape(), dim));
//   dispatch(..., [&](auto dev, auto zero) { index_select_kernel(dev, ..., check.slot(), ...); });
//   check.done();    // throws the message now: on the CPU always, on CUDA unless deferred
//
//   // a training loop
//   DeferDeviceChecks defer;                       // CUDA ops no longer wait for their checks ...
//   for (...) { step(); if (step % log_every == 0) check_device_errors(); }   // ... until here
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/error_slot.h"
#include "tensor/tensor.h"

namespace neat {

// What a check tests, enough to write its error text from a recorded (position, value).
struct CheckedValue {
  enum class Kind { Label, Index, TableId, TableIdAt, Binary };
  Kind kind = Kind::Index;
  std::string op;        // the raw op or layer that names the error
  std::string name;      // Binary: the checked tensor's name ("attention_mask")
  int64_t bound = 0;     // Label: classes; Index: the dim's size; TableId(At): the table's rows
  Shape shape;           // Index: the indexed tensor's shape; Binary: the checked tensor's
  int64_t dim = 0;       // Index: the dim as the caller gave it

  // "op: label 7 at index 1 is out of range for C = 5 classes (want 0 <= label < 5)"
  static CheckedValue label(const std::string& op, int64_t classes);
  // "op: index 7 out of range for dim 0 of [5, 3]"
  static CheckedValue index(const std::string& op, const Shape& x, int64_t dim);
  // "op: id 9 is outside the table of 5 rows", with " at position 2" after the id when at
  static CheckedValue table_id(const std::string& op, int64_t rows, bool at);
  // "op: name[1, 2] is 0.5, not 0 or 1" (the value recorded as a double's bits)
  static CheckedValue binary(const std::string& op, const std::string& name, const Shape& shape);

  std::string message(int64_t position, int64_t value) const;
  bool operator==(const CheckedValue& o) const;
};

// The host half of a device's error record: which check each recorded id stands for. Equal
// checks share an id, so a training loop that repeats its shapes keeps a few entries.
class ErrorLog {
 public:
  int64_t add(const CheckedValue& what);   // the id a kernel records for `what`
  size_t size() const;
  // Forgets every check; then, if record (a copy of [check, position, value], already reset on
  // the device) holds a failure, throws that check's message.
  void raise(const int64_t record[3]);

 private:
  mutable std::mutex mutex_;
  std::vector<CheckedValue> checks_;
};

// One op's check of its values, on the device of the values.
class DeviceCheck {
 public:
  DeviceCheck(Device device, CheckedValue what);
  ErrorSlot slot() const { return slot_; }   // for the kernel
  // Throws what's message if the kernel recorded a failure: on the CPU always, on CUDA unless a
  // DeferDeviceChecks scope is open (then check_device_errors() throws it later).
  void done();

 private:
  Device device_;
  CheckedValue what_;
  ErrorSlot slot_;
};

// While one exists, CUDA ops leave their recorded failures for check_device_errors().
class DeferDeviceChecks {
 public:
  DeferDeviceChecks();
  ~DeferDeviceChecks();
  DeferDeviceChecks(const DeferDeviceChecks&) = delete;
  DeferDeviceChecks& operator=(const DeferDeviceChecks&) = delete;
};
bool device_checks_deferred();

// Reads the CUDA error record (one synchronisation; nothing at all when no CUDA op has checked
// values) and throws the first recorded failure's message, the same text the op throws on the CPU.
void check_device_errors();

// Raw checks with no op around them, on the values' device (deferred as above):
// index int64 [any shape]: every value in [0, size).
void check_indices(const Tensor& index, int64_t size, const CheckedValue& what);
// x: every value 0 or 1 (what.shape: x's shape, for the message).
void check_binary(const Tensor& x, const CheckedValue& what);

}  // namespace neat
