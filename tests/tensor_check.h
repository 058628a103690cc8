// Scale-free comparisons of a tensor with a reference, for tests. A tolerance is relative to
// the reference tensor's own magnitude, never to max(1, |x|), which lets a small tensor pass
// whatever its values (a zero gradient against a reference of 1e-5 would pass 1e-4).
//
//   check_tensor("neat grad A", got, want, /*rtol=*/1e-4, /*floor=*/1e-3);   // llm.c style
//   CHECK(normalized_mse(on_gpu, on_cpu) < 1e-7);                            // ggml style
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "tensor/tensor.h"

namespace neat::test {

struct TensorComparison {
  bool ok = false;       // same shape, and max_error <= rtol * scale (NaN fails)
  double max_error = 0;  // max_i |got_i - want_i|
  int64_t worst_at = 0;  // the flat index of max_error
  double scale = 0;      // max(max_i |want_i|, floor)
};

// floor: an absolute magnitude well below the smallest value the tensor is meant to carry. It
// only matters for a reference that is zero (or rounding noise) by construction; for any other
// the scale is the reference's own largest value.
inline TensorComparison compare_tensor(const Tensor& got, const Tensor& want, double rtol,
                                       double floor) {
  TensorComparison c;
  if (got.shape() != want.shape()) return c;
  double largest = 0;
  for (int64_t i = 0; i < want.numel(); ++i) largest = std::max(largest, std::abs(want.flat(i)));
  c.scale = std::max(largest, floor);
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double d = std::abs(got.flat(i) - want.flat(i));
    if (std::isnan(d) || d > c.max_error) {
      c.max_error = d;
      c.worst_at = i;
      if (std::isnan(d)) break;  // the first NaN is the worst element
    }
  }
  c.ok = c.max_error <= rtol * c.scale;
  return c;
}

// compare_tensor, failing the current test case on a mismatch with the label, the shapes, the
// first values of both and the max error (llm.c's check_tensor).
inline TensorComparison check_tensor(const std::string& label, const Tensor& got,
                                     const Tensor& want, double rtol, double floor) {
  TensorComparison c = compare_tensor(got, want, rtol, floor);
  if (got.shape() != want.shape()) {
    FAIL_CHECK(label, ": shape ", shape_str(got.shape()), ", reference ", shape_str(want.shape()));
  } else if (!c.ok) {
    std::string first;
    char line[80];
    for (int64_t i = 0; i < std::min<int64_t>(5, got.numel()); ++i) {
      std::snprintf(line, sizeof line, "  %.9g vs %.9g\n", got.flat(i), want.flat(i));
      first += line;
    }
    FAIL_CHECK(label, " ", shape_str(got.shape()), ": max error ", c.max_error, " at flat index ",
               c.worst_at, " > rtol ", rtol, " x scale ", c.scale,
               "; first values (got vs reference):\n", first);
  }
  return c;
}

// check_tensor with no floor, returning max |got - want| / max |want| (the max error itself for
// a reference of all zeros, which must then be matched exactly): what the parity tests print.
inline double relative_error(const std::string& label, const Tensor& got, const Tensor& want,
                             double rtol) {
  const TensorComparison c = check_tensor(label, got, want, rtol, /*floor=*/0);
  return c.scale > 0 ? c.max_error / c.scale : c.max_error;
}

// The key projection's bias gets a gradient that is zero in exact arithmetic (q . b_k adds the
// same number to every score of a row, and softmax ignores it), so both sides of a comparison
// hold only rounding noise; tests measure it at the scale of the same layer's key weight's
// gradient. For a parameter named "<...>.key.bias" this is that weight's name; "" otherwise.
inline std::string key_weight_of_key_bias(const std::string& name) {
  const std::string suffix = ".key.bias";
  if (name.size() < suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  return name.substr(0, name.size() - 4) + "weight";
}

// ggml's normalised mean squared error: sum (got - want)^2 / sum want^2. Scale-free: 0 for equal
// tensors, 1 for got = 0, the same for both tensors multiplied by any factor. A reference that is
// all zeros gives 0 when got is all zeros too and infinity otherwise.
inline double normalized_mse(const Tensor& got, const Tensor& want) {
  NEAT_CHECK(got.shape() == want.shape(), "normalized_mse: shapes ", shape_str(got.shape()),
             " and ", shape_str(want.shape()), " differ");
  double error = 0, norm = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = got.flat(i) - want.flat(i);
    error += d * d;
    norm += want.flat(i) * want.flat(i);
  }
  if (norm == 0) return error == 0 ? 0.0 : INFINITY;
  return error / norm;
}

// normalized_mse of a result made on the GPU (copied to the CPU here) against the CPU's result;
// infinity when got is not a CUDA tensor or differs from want in dtype (0 is then bit for bit).
inline double cuda_nmse(const Tensor& got, const Tensor& want) {
  if (got.device() != Device::CUDA || got.dtype() != want.dtype()) return INFINITY;
  return normalized_mse(got.to(Device::CPU), want);
}

}  // namespace neat::test
