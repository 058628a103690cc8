// The global norm and its clip (tensor/grad_norm.h) and the CPU reference of the GPU's chunked
// sum (tensor/cpu/grad_norm.h): against float64 sums, across chunk boundaries, empty and
// zero-size tensors, clipping above and below the maximum, errors; on a GPU, the multi-tensor
// kernels against the reference bit for bit and against the CPU's clip.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "tensor/cpu/grad_norm.h"
#include "tensor/elementwise.h"
#include "tensor/gpu.h"
#include "tensor/grad_norm.h"
#include "tensor/reduce.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "train/optimizer.h"

using namespace neat;
using namespace neat::test;

namespace {

// Sizes around the 4096-element chunks: empty, one element, a chunk less one, one chunk, a chunk
// and one, several chunks and a tail, and a larger tensor.
const std::vector<int64_t> kSizes = {0, 1, 4095, 4096, 4097, 3 * 4096 + 17, 100003};

std::vector<Tensor> random_tensors(DType dtype, uint64_t seed) {
  std::vector<Tensor> tensors;
  for (size_t k = 0; k < kSizes.size(); ++k)
    tensors.push_back(random64({kSizes[k]}, seed + k, -2.0, 2.0).to(dtype));
  return tensors;
}

// sum of x^2 over every tensor, each element widened to double, added in order.
double plain_sum_of_squares(const std::vector<Tensor>& tensors) {
  double sum = 0;
  for (const Tensor& t : tensors) {
    const Tensor x = t.to(DType::Float64);
    for (int64_t i = 0; i < x.numel(); ++i) sum += x.data<double>()[i] * x.data<double>()[i];
  }
  return sum;
}

// tensor/cpu/grad_norm.h's chunked sum of the (CPU) tensors, all of dtype T.
template <typename T>
double reference_sum(const std::vector<Tensor>& tensors) {
  std::vector<const T*> data;
  std::vector<int64_t> sizes;
  for (const Tensor& t : tensors) {
    data.push_back(t.data<T>());
    sizes.push_back(t.numel());
  }
  return cpu::chunked_squared_norm(data.data(), sizes.data(), int64_t(tensors.size()));
}

double reference_sum(const std::vector<Tensor>& tensors) {
  switch (tensors.front().dtype()) {
    case DType::Float64: return reference_sum<double>(tensors);
    case DType::BFloat16: return reference_sum<bfloat16>(tensors);
    default: return reference_sum<float>(tensors);
  }
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(Device::CPU), y = b.to(Device::CPU);
  return x.dtype() == y.dtype() && x.numel() == y.numel() &&
         std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

std::vector<Tensor> clones(const std::vector<Tensor>& tensors, Device device = Device::CPU) {
  std::vector<Tensor> out;
  for (const Tensor& t : tensors) out.push_back(t.to(device).clone());
  return out;
}

}  // namespace

TEST_CASE("chunked_squared_norm, the GPU's order on the CPU, equals a float64 sum") {
  // float32 and bf16 add in float within a chunk: a few float ulps of the sum; float64 exact to
  // a few double ulps.
  for (DType dt : {DType::Float32, DType::BFloat16, DType::Float64}) {
    CAPTURE(dtype_name(dt));
    const std::vector<Tensor> tensors = random_tensors(dt, 11);
    const double want = plain_sum_of_squares(tensors);
    const double rtol = dt == DType::Float64 ? 1e-14 : 1e-6;
    CHECK(std::abs(reference_sum(tensors) - want) <= rtol * want);
    CHECK(reference_sum(tensors) == reference_sum(clones(tensors)));   // the same bits again
  }
  // Sums that float holds exactly (0.5^2 = 0.25, counts below 2^24): the chunks and partials
  // cover every element once, whatever the sizes.
  std::vector<Tensor> halves;
  int64_t total = 0;
  for (int64_t n : kSizes) {
    halves.push_back(full({n}, 0.5));
    total += n;
  }
  CHECK(reference_sum(halves) == 0.25 * double(total));
  CHECK(reference_sum(std::vector<Tensor>{full({0}, 1.0)}) == 0.0);
}

TEST_CASE("global_norm on the CPU: the float64 sum the CPU runs always used, sqrt'ed") {
  for (DType dt : {DType::Float32, DType::Float64}) {
    CAPTURE(dtype_name(dt));
    const std::vector<Tensor> tensors = random_tensors(dt, 23);
    const Tensor norm = global_norm(tensors);
    CHECK(norm.dtype() == DType::Float64);
    CHECK(norm.dim() == 0);
    CHECK(norm.item() == std::sqrt(squared_norm(tensors).item()));   // bit for bit
    const double want = std::sqrt(plain_sum_of_squares(tensors));
    CHECK(std::abs(norm.item() - want) <= 1e-14 * want);
  }
  // Mixed dtypes: one kernel call per run of one dtype, into one sum.
  const std::vector<Tensor> mixed = {random64({5000}, 1).to(DType::Float32), random64({7}, 2),
                                     random64({300}, 3).to(DType::BFloat16), random64({9000}, 4)};
  const double want = std::sqrt(plain_sum_of_squares(mixed));
  CHECK(std::abs(global_norm(mixed).item() - want) <= 1e-14 * want);
  // Only zero-size tensors: 0.
  CHECK(global_norm({full({0}, 1.0), full({3, 0}, 1.0)}).item() == 0.0);
}

TEST_CASE("clip_to_norm_ scales by max_norm / (norm + 1e-6) above max_norm, leaves them below") {
  const std::vector<Tensor> grads = random_tensors(DType::Float32, 31);
  const Tensor norm = global_norm(grads);
  const double n = norm.item();

  // Above: each element as scale_ by the same coefficient; the new norm is max_norm.
  std::vector<Tensor> clipped = clones(grads), by_scale = clones(grads);
  clip_to_norm_(clipped, norm, n / 4);
  const double coef = (n / 4) / (n + 1e-6);
  for (Tensor& t : by_scale) scale_(t, coef);
  for (size_t k = 0; k < grads.size(); ++k) CHECK(same_bits(clipped[k], by_scale[k]));
  CHECK(std::abs(global_norm(clipped).item() - n / 4) <= 1e-6 * n);

  // Below: untouched (PyTorch's min(1, coef)); a NaN norm scales nothing.
  std::vector<Tensor> below = clones(grads);
  clip_to_norm_(below, norm, 2 * n);
  for (size_t k = 0; k < grads.size(); ++k) CHECK(same_bits(below[k], grads[k]));
  std::vector<Tensor> nan_norm = clones(grads);
  clip_to_norm_(nan_norm, full({}, std::nan(""), DType::Float64), 1.0);
  for (size_t k = 0; k < grads.size(); ++k) CHECK(same_bits(nan_norm[k], grads[k]));
  // At max_norm = norm, a small norm is still scaled, by the 1e-6: 1e-3 / (1e-3 + 1e-6).
  std::vector<Tensor> small = {full({4}, 0.5e-3)};
  const Tensor small_norm = global_norm(small);
  const double sn = small_norm.item();
  clip_to_norm_(small, small_norm, sn);
  CHECK(small[0].to_vector<float>()[0] == 0.5e-3f * float(sn / (sn + 1e-6)));
  CHECK(small[0].to_vector<float>()[0] < 0.5e-3f);
}

TEST_CASE("global_norm and clip_to_norm_ errors; clip_grad_norm without gradients is 0") {
  CHECK(mentions(thrown_message([] { global_norm({}); }), {"global_norm", "no tensors"}));
  CHECK(mentions(thrown_message([] { global_norm({full({2}, 1.0), Tensor()}); }),
                 {"global_norm", "tensor 1", "undefined"}));
  std::vector<Tensor> grads = {full({2}, 1.0)};
  CHECK(mentions(thrown_message([&] { clip_to_norm_(grads, full({2}, 1.0, DType::Float64), 1.0); }),
                 {"clip_to_norm_", "one float64 value", "[2]"}));
  CHECK(mentions(thrown_message([&] { clip_to_norm_(grads, full({}, 1.0), 1.0); }),
                 {"clip_to_norm_", "float32"}));
  const Variable no_grad(full({3}, 1.0), /*requires_grad=*/true);
  const Tensor norm = clip_grad_norm({no_grad}, 1.0);
  CHECK(norm.item() == 0.0);
  CHECK(norm.device() == Device::CPU);
}

TEST_CASE("cuda: global_norm equals the chunked CPU reference bit for bit, on every run") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  for (DType dt : {DType::Float32, DType::BFloat16, DType::Float64}) {
    CAPTURE(dtype_name(dt));
    const std::vector<Tensor> tensors = random_tensors(dt, 47);
    const std::vector<Tensor> on_gpu = clones(tensors, Device::CUDA);
    const Tensor norm = global_norm(on_gpu);
    CHECK(norm.device() == Device::CUDA);
    CHECK(norm.item() == std::sqrt(reference_sum(tensors)));
    CHECK(same_bits(global_norm(on_gpu), norm));
    // And within the scale-relative tolerance of the CPU's double sum.
    const double want = global_norm(tensors).item();
    CHECK(std::abs(norm.item() - want) <= (dt == DType::Float64 ? 1e-14 : 1e-6) * want);
  }
  // Only zero-size tensors, and mixed dtypes (one launch per dtype run, into one sum).
  CHECK(global_norm({full({0}, 1.0, DType::Float32, Device::CUDA)}).item() == 0.0);
  const std::vector<Tensor> mixed = {random64({5000}, 1).to(DType::Float32), random64({9000}, 4)};
  CHECK(global_norm(clones(mixed, Device::CUDA)).item() ==
        std::sqrt(reference_sum({mixed[0]}) + reference_sum({mixed[1]})));
}

TEST_CASE("cuda: clip_to_norm_ reads the norm on the GPU and scales as the CPU does") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  for (DType dt : {DType::Float32, DType::BFloat16, DType::Float64}) {
    CAPTURE(dtype_name(dt));
    const std::vector<Tensor> grads = random_tensors(dt, 53);
    const double n = global_norm(grads).item();
    for (double max_norm : {n / 3, 2 * n}) {
      std::vector<Tensor> cpu = clones(grads), gpu = clones(grads, Device::CUDA);
      clip_to_norm_(cpu, full({}, n, DType::Float64), max_norm);
      clip_to_norm_(gpu, full({}, n, DType::Float64, Device::CUDA), max_norm);
      for (size_t k = 0; k < grads.size(); ++k) CHECK(same_bits(gpu[k], cpu[k]));
    }
  }
}
