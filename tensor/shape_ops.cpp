// Shape ops: checks and output shapes here, the copying kernels in tensor/cpu/shape_ops.h and
// tensor/cuda/shape_ops.cu.
// Every op works on every dtype but float16 (it only moves elements), except index_add, which
// adds: a bfloat16 index_add sums in float32 and rounds once.
#include "tensor/shape_ops.h"

#include "tensor/cpu/shape_ops.h"
#include "tensor/cuda/shape_ops.h"
#include "tensor/device_errors.h"
#include "tensor/dispatch.h"

namespace neat {

// ---- transpose / permute -----------------------------------------------------------------

std::vector<int64_t> inverse_permutation(const std::vector<int64_t>& dims) {
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inverse[size_t(dims[i])] = int64_t(i);
  return inverse;
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  const int64_t rank = x.dim();
  NEAT_CHECK(int64_t(dims.size()) == rank, "permute: ", shape_str(dims), " is not a permutation of the ",
             rank, " dims of ", shape_str(x.shape()));
  std::vector<int64_t> perm(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    perm[i] = normalize_dim(dims[i], rank, "permute");
    NEAT_CHECK(!seen[size_t(perm[i])], "permute: ", shape_str(dims), " repeats a dim of ",
               shape_str(x.shape()));
    seen[size_t(perm[i])] = true;
  }
  // Output dim i reads input dim perm[i]; neighbouring output dims that are also neighbours
  // in the input merge into one, so [B, N, H, d] -> [B, H, N, d] copies whole rows of d.
  std::vector<int64_t> in_stride(size_t(rank), 1);
  for (int64_t d = rank - 2; d >= 0; --d) in_stride[size_t(d)] = in_stride[size_t(d) + 1] * x.shape()[size_t(d) + 1];
  Shape out_shape, shape, stride;
  for (int64_t p : perm) {
    const int64_t size = x.shape()[size_t(p)];
    out_shape.push_back(size);
    if (size == 1) continue;
    if (!shape.empty() && stride.back() == in_stride[size_t(p)] * size) {
      shape.back() *= size;
      stride.back() = in_stride[size_t(p)];
    } else {
      shape.push_back(size);
      stride.push_back(in_stride[size_t(p)]);
    }
  }
  if (shape.empty()) shape = stride = {1};
  // The output dim that walks x contiguously; when it is not the last one, copy in tiles.
  const int64_t merged = int64_t(shape.size());
  int64_t k = merged - 1;
  for (int64_t d = 0; d < merged; ++d)
    if (stride[size_t(d)] == 1) k = d;
  Tensor out(out_shape, x.dtype(), x.device());
  dispatch_all_dtypes_with_bf16(x, "permute", [&](auto dev, auto zero) {
    using T = decltype(zero);
    if (k == merged - 1) permute_kernel(dev, out.data<T>(), x.data<T>(), merged, shape.data(), stride.data());
    else transpose_kernel(dev, out.data<T>(), x.data<T>(), merged, shape.data(), stride.data(), k);
  });
  return out;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  const int64_t d0 = normalize_dim(dim0, x.dim(), "transpose");
  const int64_t d1 = normalize_dim(dim1, x.dim(), "transpose");
  std::vector<int64_t> perm(size_t(x.dim()));
  for (int64_t d = 0; d < x.dim(); ++d) perm[size_t(d)] = d;
  std::swap(perm[size_t(d0)], perm[size_t(d1)]);
  return permute(x, perm);
}

// ---- narrow / concat ---------------------------------------------------------------------

// Elements before / after dim d: x is [outer, size(d), inner].
static int64_t outer_size(const Shape& s, int64_t d) {
  int64_t n = 1;
  for (int64_t i = 0; i < d; ++i) n *= s[size_t(i)];
  return n;
}
static int64_t inner_size(const Shape& s, int64_t d) {
  int64_t n = 1;
  for (size_t i = size_t(d) + 1; i < s.size(); ++i) n *= s[i];
  return n;
}

// True when a and b have the same rank and sizes, except possibly along dim d.
static bool same_except(const Shape& a, const Shape& b, int64_t d) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (int64_t(k) != d && a[k] != b[k]) return false;
  return true;
}

static void check_range(const Shape& shape, int64_t dim, int64_t d, int64_t start, int64_t length,
                        const char* op) {
  NEAT_CHECK(start >= 0 && length >= 0 && start + length <= shape[size_t(d)], op, ": start ", start,
             " length ", length, " out of range for dim ", dim, " of ", shape_str(shape));
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  const int64_t d = normalize_dim(dim, x.dim(), "narrow");
  check_range(x.shape(), dim, d, start, length, "narrow");
  Shape shape = x.shape();
  shape[size_t(d)] = length;
  Tensor out(shape, x.dtype(), x.device());
  const int64_t inner = inner_size(x.shape(), d), size = x.shape()[size_t(d)];
  dispatch_all_dtypes_with_bf16(x, "narrow", [&](auto dev, auto zero) {
    using T = decltype(zero);
    copy_rows(dev, out.data<T>(), length * inner, x.data<T>() + start * inner, size * inner,
                   outer_size(x.shape(), d), length * inner);
  });
  return out;
}

Tensor narrow_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t start) {
  const int64_t d = normalize_dim(dim, int64_t(input_shape.size()), "narrow_backward");
  NEAT_CHECK(same_except(grad.shape(), input_shape, d), "narrow_backward: gradient ", shape_str(grad.shape()),
             " does not fit input ", shape_str(input_shape), " narrowed along dim ", dim);
  const int64_t length = grad.shape()[size_t(d)];
  check_range(input_shape, dim, d, start, length, "narrow_backward");
  Tensor dx = zeros(input_shape, grad.dtype(), grad.device());
  const int64_t inner = inner_size(input_shape, d), size = input_shape[size_t(d)];
  dispatch_all_dtypes_with_bf16(grad, "narrow_backward", [&](auto dev, auto zero) {
    using T = decltype(zero);
    copy_rows(dev, dx.data<T>() + start * inner, size * inner, grad.data<T>(), length * inner,
                   outer_size(input_shape, d), length * inner);
  });
  return dx;
}

Tensor concat(const std::vector<Tensor>& parts, int64_t dim) {
  NEAT_CHECK(!parts.empty(), "concat: no tensors to concatenate");
  const Tensor& first = parts[0];
  const int64_t d = normalize_dim(dim, first.dim(), "concat");
  Shape shape = first.shape();
  shape[size_t(d)] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& p = parts[i];
    check_same_dtype(first, p, "concat");
    check_same_device({first, p}, "concat");
    NEAT_CHECK(same_except(p.shape(), first.shape(), d), "concat: part ", i, " has shape ", shape_str(p.shape()), " but part 0 has ",
               shape_str(first.shape()), "; they may differ only in dim ", dim);
    shape[size_t(d)] += p.shape()[size_t(d)];
  }
  Tensor out(shape, first.dtype(), first.device());
  const int64_t outer = outer_size(shape, d), inner = inner_size(shape, d);
  const int64_t out_row = shape[size_t(d)] * inner;
  dispatch_all_dtypes_with_bf16(first, "concat", [&](auto dev, auto zero) {
    using T = decltype(zero);
    int64_t offset = 0;  // where this part starts within an output row
    for (const Tensor& p : parts) {
      const int64_t row = p.shape()[size_t(d)] * inner;
      copy_rows(dev, out.data<T>() + offset, out_row, p.data<T>(), row, outer, row);
      offset += row;
    }
  });
  return out;
}

// ---- index_select / index_add --------------------------------------------------------------

// Checks that index is int64 and returns the gathered shape: x's shape with dim d replaced by
// index's shape (a 1-D index keeps the rank, like torch.index_select). The index values are
// checked by the kernels, into the device's error record (tensor/device_errors.h).
static Shape gathered_shape(const Shape& x, int64_t d, const Tensor& index, const char* op) {
  NEAT_CHECK(index.dtype() == DType::Int64, op, ": index must be int64, got ", dtype_name(index.dtype()),
             " ", shape_str(index.shape()));
  Shape out(x.begin(), x.begin() + d);
  out.insert(out.end(), index.shape().begin(), index.shape().end());
  out.insert(out.end(), x.begin() + d + 1, x.end());
  return out;
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t d = normalize_dim(dim, x.dim(), "index_select");
  Tensor out(gathered_shape(x.shape(), d, index, "index_select"), x.dtype(), x.device());
  DeviceCheck check(x.device(), CheckedValue::index("index_select", x.shape(), dim));
  dispatch_all_dtypes_with_bf16({x, index}, "index_select", [&](auto dev, auto zero) {
    using T = decltype(zero);
    index_select_kernel(dev, out.data<T>(), x.data<T>(), index.data<int64_t>(), check.slot(),
                        outer_size(x.shape(), d), x.shape()[size_t(d)], index.numel(),
                        inner_size(x.shape(), d));
  });
  check.done();
  return out;
}

Tensor index_add(const Shape& input_shape, int64_t dim, const Tensor& index, const Tensor& src) {
  // Several indices may add into one element: bf16 sums in float32 (300 adds of 1 make 300,
  // not bf16's 256, where 256 + 1 rounds back to 256), rounded once at the end.
  if (src.dtype() == DType::BFloat16)
    return index_add(input_shape, dim, index, src.to(DType::Float32)).to(DType::BFloat16);
  const int64_t d = normalize_dim(dim, int64_t(input_shape.size()), "index_add");
  const Shape expected = gathered_shape(input_shape, d, index, "index_add");
  NEAT_CHECK(src.shape() == expected, "index_add: source ", shape_str(src.shape()), " does not match ",
             shape_str(expected), " (input ", shape_str(input_shape), " gathered at index ",
             shape_str(index.shape()), " along dim ", dim, ")");
  Tensor dx = zeros(input_shape, src.dtype(), src.device());
  DeviceCheck check(src.device(), CheckedValue::index("index_add", input_shape, dim));
  dispatch_all_dtypes({src, index}, "index_add", [&](auto dev, auto zero) {
    using T = decltype(zero);
    index_add_kernel(dev, dx.data<T>(), src.data<T>(), index.data<int64_t>(), check.slot(),
                     outer_size(input_shape, d), input_shape[size_t(d)], index.numel(),
                     inner_size(input_shape, d));
  });
  check.done();
  return dx;
}

}  // namespace neat
