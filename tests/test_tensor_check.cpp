// The scale-free comparisons of tests/tensor_check.h can fail: a zero or wrong tensor against a
// small reference fails (the old max(1, |x|) rule passed it), a NaN fails, and the tolerance
// does not depend on the units (scaling both tensors gives the same verdict).
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/elementwise.h"
#include "tensor/shape_ops.h"
#include "tests/op_test_util.h"
#include "tests/tensor_check.h"

using namespace neat;
using namespace neat::test;

TEST_CASE("compare_tensor: a zero gradient against a small reference fails") {
  // A reference gradient peaking at 4.8e-5, like the smallest one the old parity file held.
  Tensor want = mul_scalar(random64({3, 16}, 1), 4.8e-5);
  Tensor zero = zeros({3, 16}, DType::Float64);
  CHECK_FALSE(compare_tensor(zero, want, 1e-4, 1e-9).ok);
  // The rule it replaces, tol * max(1, max |want|), let the zero gradient through.
  CHECK(max_abs_diff(zero, want) <= 1e-4 * 1.0);
  // Half the gradient, or the gradient of another element, fails too.
  CHECK_FALSE(compare_tensor(mul_scalar(want, 0.5), want, 1e-4, 1e-9).ok);
  CHECK_FALSE(
      compare_tensor(transpose(want.reshape({16, 3}), 0, 1).reshape({3, 16}), want, 1e-4, 1e-9).ok);
  // The right values, rounded to float32, pass.
  CHECK(compare_tensor(want.to(DType::Float32).to(DType::Float64), want, 1e-4, 1e-9).ok);
}

TEST_CASE("compare_tensor: scale-free, NaN and shape mismatches fail, the floor") {
  Tensor want = random64({4, 5}, 2);
  Tensor got = add(want, mul_scalar(random64({4, 5}, 3), 1e-6));  // relative error ~1e-6
  for (double unit : {1e-8, 1.0, 1e8}) {
    CAPTURE(unit);
    CHECK(compare_tensor(mul_scalar(got, unit), mul_scalar(want, unit), 1e-5, 0).ok);
    CHECK_FALSE(compare_tensor(mul_scalar(got, unit), mul_scalar(want, unit), 1e-7, 0).ok);
  }
  Tensor with_nan = want.clone();
  with_nan.set({2, 3}, std::nan(""));
  TensorComparison c = compare_tensor(with_nan, want, 1e-4, 0);
  CHECK_FALSE(c.ok);
  CHECK(c.worst_at == 2 * 5 + 3);
  CHECK_FALSE(compare_tensor(want.reshape({5, 4}), want, 1e-4, 0).ok);
  // A reference that is rounding noise by construction (the key bias's gradient) is compared
  // on the floor's scale: noise passes, a real value fails.
  Tensor noise = mul_scalar(random64({6}, 4), 1e-17);
  CHECK(compare_tensor(mul_scalar(random64({6}, 5), 1e-9), noise, 1e-4, 1e-3).ok);
  CHECK_FALSE(compare_tensor(mul_scalar(random64({6}, 5), 1e-3), noise, 1e-4, 1e-3).ok);
}

TEST_CASE("normalized_mse: 0 for equal, 1 for zeros, the same in any unit") {
  Tensor want = random64({7, 3}, 6);
  CHECK(normalized_mse(want, want) == 0.0);
  CHECK(normalized_mse(zeros({7, 3}, DType::Float64), want) == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(normalized_mse(mul_scalar(want, 2.0), want) == doctest::Approx(1.0).epsilon(1e-15));
  Tensor got = add(want, mul_scalar(random64({7, 3}, 7), 1e-4));
  const double e = normalized_mse(got, want);
  CHECK(e > 0);
  CHECK(e < 1e-7);
  CHECK(normalized_mse(mul_scalar(got, 1e-6), mul_scalar(want, 1e-6)) ==
        doctest::Approx(e).epsilon(1e-9));
  CHECK(normalized_mse(zeros({2}), zeros({2})) == 0.0);
  CHECK(std::isinf(normalized_mse(ones({2}), zeros({2}))));
  Tensor with_nan = want.clone();
  with_nan.set({0, 0}, std::nan(""));
  CHECK_FALSE(normalized_mse(with_nan, want) < 1e-7);
  CHECK(mentions(thrown_message([&] {
                   normalized_mse(want, zeros({3, 7}, DType::Float64));
                 }),
                 {"normalized_mse", "[7, 3]", "[3, 7]"}));
}
