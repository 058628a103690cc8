// Tensor: an n-dimensional array with a shape, a dtype and a device, over shared storage.
// Storage is always contiguous row-major; copies of a Tensor share it (like torch.Tensor),
// reshape() is a view on the same storage, everything else allocates. No gradients here:
// see autograd/variable.h for that.
//
//   Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});   // float32 2x3
//   Tensor b = ones({3});                                   // broadcasts against a's last dim
//   Tensor c = add(a, b);                                   // tensor/elementwise.h
//   c.at({1, 2}) == 7.0;                                    // element access (returns double)
//   Tensor d = c.reshape({3, -1});                          // view: shares c's storage
//   d.set({0, 0}, 10.0);  c.at({0, 0}) == 10.0;
//   Tensor e = c.to(DType::Float64);                        // a converted copy
//   std::cout << c;                                         // tensor([[10, 3, 4], [5, 6, 7]], ...)
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/dtype.h"
#include "tensor/random.h"

namespace neat {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);   // "[2, 3]"
int64_t shape_numel(const Shape& shape);
// Resolves a possibly negative dim against a rank (-1 = last), checking it is in range.
int64_t normalize_dim(int64_t dim, int64_t rank, const char* op);

// A block of memory on one device. Freed when the last Tensor that uses it goes away. Pinned
// storage is page-locked host memory (CPU device) from the CUDA backend (tensor/gpu.h).
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  bool pinned = false;
  Storage(size_t bytes, Device device, bool pinned = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() == false
  // Uninitialised memory of the given shape (use zeros() etc. for defined values).
  Tensor(Shape shape, DType dtype = DType::Float32, Device device = Device::CPU);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return int64_t(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  size_t nbytes() const { return size_t(numel_) * dtype_size(dtype_); }

  // Typed pointer to the first element, in the memory of the tensor's device (so only a CPU
  // tensor's may be read on the host; kernels get it through tensor/dispatch.h). Checks that
  // the tensor is defined and that T matches dtype(): data<float>() of a float64 tensor throws.
  template <typename T> T* data() const;
  void* raw_data() const;

  // View with a new shape of the same numel (one dim may be -1).
  Tensor reshape(Shape shape) const;
  // Converted copies (a new tensor even when nothing changes would be wasteful: same
  // dtype/device returns *this).
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  // A deep copy with its own storage.
  Tensor clone() const;
  // Copies src's values (same number of elements, any dtype) into this tensor's storage;
  // copies between devices need a backend for both.
  void copy_from(const Tensor& src) const;
  // Fills every element with value.
  void fill_(double value) const;
  // How many tensors share this tensor's storage (what keeps it alive; tests of graph memory).
  long storage_use_count() const { return storage_.use_count(); }
  // True when both tensors are the same view of the same storage.
  bool is_same(const Tensor& other) const {
    return storage_ == other.storage_ && shape_ == other.shape_;
  }

  // Element access for tests and printing (slow: one element at a time, returns double). These
  // and printing are the host accessors: a tensor on another device is copied to the host.
  double at(const std::vector<int64_t>& index) const;
  void set(const std::vector<int64_t>& index, double value) const;  // CPU tensors only
  double item() const;  // the only element of a one-element tensor
  double flat(int64_t i) const;  // element i in row-major order
  template <typename T> std::vector<T> to_vector() const;  // all elements, converted to T

  std::string str() const;
  // True for a CPU tensor in page-locked memory (pinned_empty).
  bool is_pinned() const { return storage_ && storage_->pinned; }

 private:
  friend Tensor pinned_empty(Shape shape, DType dtype);
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::Float32;
  Device device_ = Device::CPU;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- factories ---------------------------------------------------------------------------
Tensor empty(Shape shape, DType dtype = DType::Float32, Device device = Device::CPU);
// A CPU tensor in pinned (page-locked) memory, whose copy to a GPU is queued without waiting
// (the loader's batches for a CUDA run, like PyTorch's pin_memory). Needs a GPU.
Tensor pinned_empty(Shape shape, DType dtype = DType::Float32);
Tensor zeros(Shape shape, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor ones(Shape shape, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor full(Shape shape, double value, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor zeros_like(const Tensor& t);
Tensor arange(int64_t n, DType dtype = DType::Float32);   // 0, 1, ..., n-1
Tensor randn(Shape shape, Generator& gen, DType dtype = DType::Float32);   // N(0, 1)
Tensor rand(Shape shape, Generator& gen, DType dtype = DType::Float32);    // U[0, 1)
Tensor uniform(Shape shape, double low, double high, Generator& gen, DType dtype = DType::Float32);
// Copies values in row-major order; shape {} means 1-D of values.size().
Tensor from_vector(const std::vector<float>& values, Shape shape = {});
Tensor from_vector(const std::vector<double>& values, Shape shape = {});
Tensor from_vector(const std::vector<int64_t>& values, Shape shape = {});
Tensor scalar_tensor(double value, DType dtype = DType::Float32);   // shape {} (0-d)

// Checks shared by ops: same dtype / device, else an error naming op and both shapes.
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);
// The tensors an op reads and writes, e.g. {x, weight, bias}.
using Operands = std::initializer_list<std::reference_wrapper<const Tensor>>;
// Every defined operand on the first one's device, else an error naming the op, both devices
// and both shapes (undefined operands, such as an absent bias, are skipped).
void check_same_device(Operands operands, const char* op);
void check_float(const Tensor& a, const char* op);

}  // namespace neat
