#include "tensor/tensor.h"

#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "tensor/cpu/tensor.h"
#include "tensor/cuda/tensor.h"
#include "tensor/dispatch.h"
#include "tensor/gpu.h"
#include "tensor/profile.h"

namespace neat {

std::string shape_str(const Shape& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t normalize_dim(int64_t dim, int64_t rank, const char* op) {
  int64_t d = dim < 0 ? dim + rank : dim;
  NEAT_CHECK(d >= 0 && d < rank, op, ": dim ", dim, " out of range for a tensor of rank ", rank);
  return d;
}

// An empty tensor needs no memory, so it may sit on a device this build has no backend for:
// every op on it still goes through the seam, which names the missing backend (the tests use
// this to check that ops on a CUDA tensor say so in a CPU-only build).
Storage::Storage(size_t nbytes, Device dev, bool pin) : bytes(nbytes), device(dev), pinned(pin) {
  if (pinned) {
    data = cuda_allocate_pinned(nbytes);
    return;
  }
  if (nbytes == 0 && dev != Device::CPU) return;
  const AllocationTimer timer(nbytes, /*is_release=*/false);
  dispatch_device(dev, "Tensor", [&](auto d) { data = allocate(d, nbytes); });
}

Storage::~Storage() {
  if (!data) return;
  const AllocationTimer timer(bytes, /*is_release=*/true);
  if (pinned) cuda_release_pinned(data);
  else dispatch_device(device, "Tensor", [&](auto d) { release(d, data); });
}

Tensor::Tensor(Shape shape, DType dtype, Device device)
    : shape_(std::move(shape)), dtype_(dtype), device_(device) {
  for (int64_t d : shape_) NEAT_CHECK(d >= 0, "Tensor: negative size in shape ", shape_str(shape_));
  numel_ = shape_numel(shape_);
  storage_ = std::make_shared<Storage>(nbytes(), device);
}

int64_t Tensor::size(int64_t d) const { return shape_[normalize_dim(d, dim(), "size")]; }

template <typename T> T* Tensor::data() const {
  NEAT_CHECK(defined(), "data: tensor is undefined");
  NEAT_CHECK(dtype_ == dtype_of<T>(), "data: tensor of dtype ", dtype_name(dtype_),
             " accessed as ", dtype_name(dtype_of<T>()));
  return static_cast<T*>(storage_->data);
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int64_t* Tensor::data<int64_t>() const;
template bfloat16* Tensor::data<bfloat16>() const;
template float16* Tensor::data<float16>() const;

void* Tensor::raw_data() const {
  NEAT_CHECK(defined(), "raw_data: tensor is undefined");
  return storage_->data;
}

Tensor Tensor::reshape(Shape shape) const {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      NEAT_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape));
      infer = int64_t(i);
    } else {
      NEAT_CHECK(shape[i] >= 0, "reshape: negative size in ", shape_str(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    NEAT_CHECK(known > 0 && numel_ % known == 0, "reshape: cannot view ", shape_str(shape_), " as ",
               shape_str(shape));
    shape[infer] = numel_ / known;
  }
  NEAT_CHECK(shape_numel(shape) == numel_, "reshape: cannot view ", shape_str(shape_), " (",
             numel_, " elements) as ", shape_str(shape));
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

void Tensor::copy_from(const Tensor& src) const {
  NEAT_CHECK(defined() && src.defined(), "copy_from: a tensor is undefined");
  NEAT_CHECK(src.numel() == numel_, "copy_from: source ", shape_str(src.shape()),
             " and destination ", shape_str(shape_), " differ in size");
  if (src.device() != device_) {
    // Between host and device: convert on the source's device first, then copy the bytes with
    // the device's kernel (the one device that is not the CPU picks it).
    const Tensor same = src.to(dtype_);
    if (device_ == Device::CPU)
      dispatch_device(src.device(), "copy_from", [&](auto dev) { copy_to_host(dev, raw_data(), same.raw_data(), nbytes()); });
    else
      dispatch_device(device_, "copy_from", [&](auto dev) { copy_from_host(dev, raw_data(), same.raw_data(), nbytes()); });
    return;
  }
  const Tensor& dst = *this;
  dispatch_storage_dtypes({dst, src}, "copy_from", [&](auto dev, auto dst_zero) {
    dispatch_storage_dtypes(src, "copy_from", [&](auto, auto src_zero) {
      using Dst = decltype(dst_zero);
      using Src = decltype(src_zero);
      copy_convert(dev, dst.data<Dst>(), src.data<Src>(), numel_);
    });
  });
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out(shape_, dtype, device_);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(Device device) const {
  if (device == device_) return *this;
  dispatch_device(device, "to", [](auto) {});  // names "to" when the device has no backend
  Tensor out(shape_, dtype_, device);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out(shape_, dtype_, device_);
  out.copy_from(*this);
  return out;
}

void Tensor::fill_(double value) const {
  dispatch_storage_dtypes(*this, "fill_", [&](auto dev, auto zero) {
    using T = decltype(zero);
    fill(dev, data<T>(), numel_, convert_value<T>(value));
  });
}

static int64_t flat_index(const Shape& shape, const std::vector<int64_t>& index) {
  NEAT_CHECK(index.size() == shape.size(), "at: index of rank ", index.size(),
             " for a tensor of shape ", shape_str(shape));
  int64_t flat = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    NEAT_CHECK(index[i] >= 0 && index[i] < shape[i], "at: index ", shape_str(index),
               " out of bounds for shape ", shape_str(shape));
    flat = flat * shape[i] + index[i];
  }
  return flat;
}

// The host accessors below read host memory: a tensor on another device is copied over first.
double Tensor::flat(int64_t i) const {
  NEAT_CHECK(i >= 0 && i < numel_, "flat: index ", i, " out of range for ", numel_, " elements");
  if (device_ != Device::CPU) return to(Device::CPU).flat(i);
  switch (dtype_) {
    case DType::Float32: return data<float>()[i];
    case DType::Float64: return data<double>()[i];
    case DType::Int64: return double(data<int64_t>()[i]);
    case DType::BFloat16: return double(float(data<bfloat16>()[i]));
    case DType::Float16: return double(float(data<float16>()[i]));
  }
  return 0;
}

double Tensor::at(const std::vector<int64_t>& index) const { return flat(flat_index(shape_, index)); }

void Tensor::set(const std::vector<int64_t>& index, double value) const {
  NEAT_CHECK(device_ == Device::CPU, "set: writes host memory, but the tensor is on ",
             device_name(device_), " (set it on the CPU, then move it with to())");
  int64_t i = flat_index(shape_, index);
  switch (dtype_) {
    case DType::Float32: data<float>()[i] = float(value); break;
    case DType::Float64: data<double>()[i] = value; break;
    case DType::Int64: data<int64_t>()[i] = int64_t(value); break;
    case DType::BFloat16: data<bfloat16>()[i] = convert_value<bfloat16>(value); break;
    case DType::Float16: data<float16>()[i] = convert_value<float16>(value); break;
  }
}

double Tensor::item() const {
  NEAT_CHECK(numel_ == 1, "item: tensor of shape ", shape_str(shape_), " has ", numel_,
             " elements, not 1");
  return flat(0);
}

template <typename T> std::vector<T> Tensor::to_vector() const {
  const Tensor host = to(Device::CPU);
  std::vector<T> out(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) out[size_t(i)] = static_cast<T>(host.flat(i));
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

// Prints like PyTorch, eliding the middle of long dimensions.
static void print_block(std::ostream& os, const Tensor& t, int64_t dim, int64_t offset) {
  const int64_t n = t.shape()[size_t(dim)];
  int64_t stride = 1;
  for (int64_t d = dim + 1; d < t.dim(); ++d) stride *= t.shape()[size_t(d)];
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (n > 8 && i == 3) { os << "..., "; i = n - 3; }
    if (dim + 1 == t.dim()) os << t.flat(offset + i);
    else print_block(os, t, dim + 1, offset + i * stride);
    if (i + 1 < n) os << ", ";
  }
  os << "]";
}

std::string Tensor::str() const {
  std::ostringstream os;
  if (!defined()) return "tensor(undefined)";
  const Tensor host = to(Device::CPU);
  os << std::setprecision(6) << "tensor(";
  if (dim() == 0) os << host.flat(0);
  else print_block(os, host, 0, 0);
  os << ", shape=" << shape_str(shape_) << ", dtype=" << dtype_name(dtype_) << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

Tensor empty(Shape shape, DType dtype, Device device) { return Tensor(std::move(shape), dtype, device); }

Tensor pinned_empty(Shape shape, DType dtype) {
  Tensor t;
  t.shape_ = std::move(shape);
  for (int64_t d : t.shape_) NEAT_CHECK(d >= 0, "pinned_empty: negative size in shape ", shape_str(t.shape_));
  t.numel_ = shape_numel(t.shape_);
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(t.nbytes(), Device::CPU, /*pinned=*/true);
  return t;
}

Tensor full(Shape shape, double value, DType dtype, Device device) {
  Tensor t(std::move(shape), dtype, device);
  t.fill_(value);
  return t;
}
Tensor zeros(Shape shape, DType dtype, Device device) { return full(std::move(shape), 0.0, dtype, device); }
Tensor ones(Shape shape, DType dtype, Device device) { return full(std::move(shape), 1.0, dtype, device); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }

Tensor arange(int64_t n, DType dtype) {
  Tensor t({n}, dtype);
  for (int64_t i = 0; i < n; ++i) t.set({i}, double(i));
  return t;
}

template <typename Sample>
static Tensor fill_random(Shape shape, DType dtype, Sample sample) {
  NEAT_CHECK(is_floating(dtype), "random factories need a floating dtype, got ", dtype_name(dtype));
  Tensor t(std::move(shape), dtype);
  dispatch_storage_dtypes(t, "random", [&](auto, auto zero) {  // the draws, then rounded to T
    using T = decltype(zero);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = convert_value<T>(sample());
  });
  return t;
}

Tensor randn(Shape shape, Generator& gen, DType dtype) {
  return fill_random(std::move(shape), dtype, [&] { return gen.normal(); });
}
Tensor rand(Shape shape, Generator& gen, DType dtype) {
  return fill_random(std::move(shape), dtype, [&] { return gen.uniform(); });
}
Tensor uniform(Shape shape, double low, double high, Generator& gen, DType dtype) {
  return fill_random(std::move(shape), dtype, [&] { return gen.uniform(low, high); });
}

template <typename T>
static Tensor from_values(const std::vector<T>& values, Shape shape) {
  if (shape.empty()) shape = {int64_t(values.size())};
  NEAT_CHECK(shape_numel(shape) == int64_t(values.size()), "from_vector: ", values.size(),
             " values do not fill shape ", shape_str(shape));
  Tensor t(std::move(shape), dtype_of<T>());
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
Tensor from_vector(const std::vector<float>& v, Shape s) { return from_values(v, std::move(s)); }
Tensor from_vector(const std::vector<double>& v, Shape s) { return from_values(v, std::move(s)); }
Tensor from_vector(const std::vector<int64_t>& v, Shape s) { return from_values(v, std::move(s)); }

Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  NEAT_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch: ", dtype_name(a.dtype()), " ",
             shape_str(a.shape()), " and ", dtype_name(b.dtype()), " ", shape_str(b.shape()));
}
void check_same_device(Operands operands, const char* op) {
  const Tensor* first = nullptr;
  for (const Tensor& t : operands) {
    if (!t.defined()) continue;
    if (!first) first = &t;
    NEAT_CHECK(t.device() == first->device(), op, ": tensors on different devices: ",
               device_name(first->device()), " ", shape_str(first->shape()), " and ",
               device_name(t.device()), " ", shape_str(t.shape()));
  }
}
void check_float(const Tensor& a, const char* op) {
  if (!a.defined()) return;
  NEAT_CHECK(is_floating(a.dtype()), op, ": needs a floating tensor, got ", dtype_name(a.dtype()),
             " ", shape_str(a.shape()));
}

}  // namespace neat
