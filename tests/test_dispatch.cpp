// The device seam (tensor/dispatch.h): its usage example, the errors for a device this build
// has no backend for and for operands on two devices, and Tensor::data<T>()'s dtype check.
// A CPU-only build cannot allocate CUDA memory, but an empty tensor needs none, so empty CUDA
// tensors reach every op and show what it says about the missing backend.
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/cpu/elementwise.h"
#include "tensor/cuda/elementwise.h"
#include "tensor/cross_entropy.h"
#include "tensor/dispatch.h"
#include "tensor/elementwise.h"
#include "tensor/gpu.h"
#include "tensor/layer_norm.h"
#include "tensor/matmul.h"
#include "tensor/reduce.h"
#include "tensor/shape_ops.h"
#include "tensor/softmax.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"

using namespace neat;
using namespace neat::test;

TEST_CASE("dispatch.h usage example") {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor x = from_vector(std::vector<double>{0, 1}).to(dtype);
    Tensor y(x.shape(), x.dtype(), x.device());
    dispatch(x, "exp", [&](auto dev, auto zero) {
      using T = decltype(zero);
      unary_forward(dev, UnaryOp::Exp, y.data<T>(), x.data<T>(), x.numel());
    });
    CHECK(y.at({1}) == doctest::Approx(std::exp(1.0)).epsilon(1e-6));
  }
  CHECK(mentions(thrown_message([] { dispatch(zeros({2}, DType::Int64), "exp", [](auto, auto) {}); }),
                 {"exp", "int64", "[2]"}));
  int64_t seen = 0;
  dispatch_all_dtypes(zeros({2}, DType::Int64), "copy", [&](auto, auto zero) { seen = sizeof(zero); });
  CHECK(seen == 8);
  // The moving and integer-capable ops: every dtype but float16 (a storage type only).
  auto element_size = [&](DType dtype) {
    dispatch_all_dtypes_with_bf16(zeros({2}, dtype), "copy",
                                  [&](auto, auto zero) { seen = sizeof(zero); });
    return seen;
  };
  CHECK(element_size(DType::Int64) == 8);
  CHECK(element_size(DType::BFloat16) == 2);
  CHECK(element_size(DType::Float64) == 8);
  CHECK(mentions(thrown_message([&] { element_size(DType::Float16); }),
                 {"copy", "no float16 kernel", "[2]"}));
}

TEST_CASE("an op on a CUDA tensor names the op and the missing backend") {
  if (cuda_built()) return skip("this build has the CUDA backend (tests/test_cuda.cpp covers it)");
  const Tensor cuda({0, 3}, DType::Float32, Device::CUDA);   // empty: needs no CUDA memory
  CHECK(cuda.device() == Device::CUDA);
  auto says_not_built = [](const std::function<void()>& op, const char* name) {
    const std::string message = thrown_message(op);
    CAPTURE(message);
    CHECK(mentions(message, {std::string(name) + ": ", "cuda", "not built"}));
  };
  says_not_built([&] { softmax(cuda, -1); }, "softmax");
  says_not_built([&] { exp(cuda); }, "exp");
  says_not_built([&] { add(cuda, cuda); }, "add");
  says_not_built([&] { sum(cuda, {1}); }, "sum");
  says_not_built([&] { transpose(cuda, 0, 1); }, "permute");
  says_not_built([&] { matmul(cuda, Tensor({3, 0}, DType::Float32, Device::CUDA)); }, "matmul");
  says_not_built([&] { cuda.clone(); }, "copy_from");
  says_not_built([&] { cuda.fill_(1.0); }, "fill_");
  // Memory on it, or a copy to it, cannot be made at all.
  says_not_built([] { Tensor({2}, DType::Float32, Device::CUDA); }, "Tensor");
  says_not_built([] { ones({2}).to(Device::CUDA); }, "to");
  says_not_built([&] { cuda.to(Device::CPU); }, "copy_from");
}

TEST_CASE("operands on two devices are an error naming the op and both devices") {
  const Tensor cpu_x = zeros({0, 3});
  const Tensor cuda_x({0, 3}, DType::Float32, Device::CUDA);
  auto says_mixed = [](const std::function<void()>& op, const char* name) {
    const std::string message = thrown_message(op);
    CAPTURE(message);
    CHECK(mentions(message, {std::string(name) + ": tensors on different devices", "cpu", "cuda"}));
  };
  says_mixed([&] { add(cpu_x, cuda_x); }, "add");
  says_mixed([&] { matmul(cpu_x, Tensor({3, 0}, DType::Float32, Device::CUDA)); }, "matmul");
  says_mixed([&] { concat({cpu_x, cuda_x}, 0); }, "concat");
  says_mixed([&] { softmax_backward(cpu_x, cuda_x, -1); }, "softmax_backward");
  says_mixed([&] { index_select(cpu_x, 0, Tensor({0}, DType::Int64, Device::CUDA)); },
             "index_select");
}

TEST_CASE("Tensor::data<T>() checks that T is the tensor's dtype") {
  const Tensor x = zeros({2}, DType::Float64);
  CHECK(x.data<double>() != nullptr);
  CHECK(mentions(thrown_message([&] { x.data<float>(); }), {"data", "float64", "float32"}));
  CHECK(mentions(thrown_message([&] { x.data<int64_t>(); }), {"data", "float64", "int64"}));
  CHECK(mentions(thrown_message([] { Tensor().data<float>(); }), {"data", "undefined"}));
}

TEST_CASE("out-of-range indices are found by the kernel and named by the op") {
  const Tensor x = zeros({5, 3});
  CHECK(mentions(thrown_message([&] { index_select(x, 0, from_vector(std::vector<int64_t>{1, 7, 9})); }),
                 {"index_select: index 7 out of range for dim 0 of [5, 3]"}));
  CHECK(mentions(thrown_message([&] { index_add({5, 3}, 0, from_vector(std::vector<int64_t>{-1}), zeros({1, 3})); }),
                 {"index_add: index -1 out of range for dim 0 of [5, 3]"}));
  const Tensor log_probs = log_softmax(zeros({2, 4}), 1);
  CHECK(mentions(thrown_message([&] {
                   cross_entropy_backward(scalar_tensor(1.0), log_probs,
                                          from_vector(std::vector<int64_t>{0, 4}), 0.0);
                 }),
                 {"cross_entropy_backward: label 4 at index 1 is out of range for C = 4"}));
}

TEST_CASE("squared_norm sums the squares of every tensor in double") {
  const Tensor a = from_vector(std::vector<float>{3, -4});
  const Tensor b = from_vector(std::vector<double>{1, 2, 2}, {3, 1});
  const Tensor total = squared_norm({a, b});
  CHECK(total.dtype() == DType::Float64);
  CHECK(total.dim() == 0);
  CHECK(total.item() == 34.0);
  Generator gen(3);
  const Tensor big = randn({100000}, gen);   // the threaded path
  double want = 0;
  for (float v : big.to_vector<float>()) want += double(v) * double(v);
  CHECK(squared_norm({big}).item() == doctest::Approx(want).epsilon(1e-12));
}
