// Deferred value checks (tensor/device_errors.h): the error texts, the host's log of what each
// recorded id means, and when a device's record is read.
#include "tensor/device_errors.h"

#include <atomic>
#include <cstring>
#include <sstream>

#include "tensor/cpu/device_errors.h"
#include "tensor/cuda/device_errors.h"
#include "tensor/dispatch.h"

namespace neat {

// ---- the messages ------------------------------------------------------------------------

CheckedValue CheckedValue::label(const std::string& op, int64_t classes) {
  CheckedValue c;
  c.kind = Kind::Label;
  c.op = op;
  c.bound = classes;
  return c;
}

CheckedValue CheckedValue::index(const std::string& op, const Shape& x, int64_t dim) {
  CheckedValue c;
  c.kind = Kind::Index;
  c.op = op;
  c.shape = x;
  c.dim = dim;
  return c;
}

CheckedValue CheckedValue::table_id(const std::string& op, int64_t rows, bool at) {
  CheckedValue c;
  c.kind = at ? Kind::TableIdAt : Kind::TableId;
  c.op = op;
  c.bound = rows;
  return c;
}

CheckedValue CheckedValue::binary(const std::string& op, const std::string& name,
                                  const Shape& shape) {
  CheckedValue c;
  c.kind = Kind::Binary;
  c.op = op;
  c.name = name;
  c.shape = shape;
  return c;
}

// "[1, 2]": the multi-index of a flat position in shape.
static std::string index_of(int64_t position, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] > 0 ? position % shape[d] : 0;
    position = shape[d] > 0 ? position / shape[d] : 0;
  }
  std::string text = "[";
  for (size_t d = 0; d < index.size(); ++d) text += (d ? ", " : "") + std::to_string(index[d]);
  return text + "]";
}

std::string CheckedValue::message(int64_t position, int64_t value) const {
  std::ostringstream m;
  m << op << ": ";
  switch (kind) {
    case Kind::Label:
      m << "label " << value << " at index " << position << " is out of range for C = " << bound
        << " classes (want 0 <= label < " << bound << ")";
      break;
    case Kind::Index:
      m << "index " << value << " out of range for dim " << dim << " of " << shape_str(shape);
      break;
    case Kind::TableId:
    case Kind::TableIdAt:
      m << "id " << value;
      if (kind == Kind::TableIdAt) m << " at position " << position;
      m << " is outside the table of " << bound << " rows";
      break;
    case Kind::Binary: {
      double x;
      std::memcpy(&x, &value, sizeof x);
      m << name << index_of(position, shape) << " is " << x << ", not 0 or 1";
      break;
    }
  }
  return m.str();
}

bool CheckedValue::operator==(const CheckedValue& o) const {
  return kind == o.kind && op == o.op && name == o.name && bound == o.bound && shape == o.shape &&
         dim == o.dim;
}

// ---- the log of checks -------------------------------------------------------------------

int64_t ErrorLog::add(const CheckedValue& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < checks_.size(); ++i)
    if (checks_[i] == what) return int64_t(i);
  checks_.push_back(what);
  return int64_t(checks_.size()) - 1;
}

size_t ErrorLog::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return checks_.size();
}

void ErrorLog::raise(const int64_t record[3]) {
  std::vector<CheckedValue> checks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    checks.swap(checks_);
  }
  if (record[0] < 0) return;
  NEAT_CHECK(record[0] < int64_t(checks.size()), "device error record: check ", record[0],
             " failed, but only ", checks.size(), " checks ran since the last read");
  NEAT_CHECK(false, checks[size_t(record[0])].message(record[1], record[2]));
}

// ---- when the record is read -------------------------------------------------------------

namespace {

// The CUDA record's log; checks added since the last read. So many distinct checks without a
// read (shapes that never repeat, under a DeferDeviceChecks that never reads) read it early.
ErrorLog& cuda_log() {
  static ErrorLog log;
  return log;
}
constexpr size_t kMaxUnreadChecks = 1024;

std::atomic<bool> cuda_checked{false};   // a CUDA op has checked values: there is a record
std::atomic<int> deferred_scopes{0};

}  // namespace

DeferDeviceChecks::DeferDeviceChecks() { ++deferred_scopes; }
DeferDeviceChecks::~DeferDeviceChecks() { --deferred_scopes; }
bool device_checks_deferred() { return deferred_scopes.load() > 0; }

void check_device_errors() {
  if (!cuda_checked.load()) return;
  int64_t record[3];
  dispatch_device(Device::CUDA, "check_device_errors",
                  [&](auto dev) { take_error_record(dev, record); });
  cuda_log().raise(record);
}

DeviceCheck::DeviceCheck(Device device, CheckedValue what)
    : device_(device), what_(std::move(what)) {
  if (device_ == Device::CPU) {   // emptied first: an op that threw may have left a failure
    int64_t stale[3];
    take_error_record(Cpu{}, stale);
    slot_ = {cpu::error_record(Cpu{}), 0};
    return;
  }
  if (cuda_log().size() >= kMaxUnreadChecks) check_device_errors();
  dispatch_device(device_, what_.op.c_str(), [&](auto dev) { slot_.record = error_record(dev); });
  cuda_checked = true;
  slot_.check = cuda_log().add(what_);
}

void DeviceCheck::done() {
  if (device_ != Device::CPU) {
    if (!device_checks_deferred()) check_device_errors();
    return;
  }
  int64_t record[3];
  take_error_record(Cpu{}, record);
  NEAT_CHECK(record[0] < 0, what_.message(record[1], record[2]));
}

// ---- raw checks --------------------------------------------------------------------------

void check_indices(const Tensor& index, int64_t size, const CheckedValue& what) {
  NEAT_CHECK(index.dtype() == DType::Int64, what.op, ": ids must be int64, got ",
             dtype_name(index.dtype()));
  DeviceCheck check(index.device(), what);
  dispatch_device(index.device(), what.op.c_str(), [&](auto dev) {
    record_out_of_range(dev, index.data<int64_t>(), index.numel(), size, check.slot());
  });
  check.done();
}

void check_binary(const Tensor& x, const CheckedValue& what) {
  const Tensor values = x.to(DType::Float64);
  DeviceCheck check(x.device(), what);
  dispatch_device(x.device(), what.op.c_str(), [&](auto dev) {
    record_not_binary(dev, values.data<double>(), values.numel(), check.slot());
  });
  check.done();
}

}  // namespace neat
