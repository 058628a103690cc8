// Helpers shared by the tests (ops, layers, models): the message an expression throws, random
// float64 inputs, closeness of two tensors and their scale, and a one-line gradient check.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/half.h"
#include "tensor/tensor.h"

namespace neat::test {

// The message of the std::runtime_error that fn throws; "" when it throws nothing.
inline std::string thrown_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// True when message contains every one of parts (an op name and the shapes it should name).
inline bool mentions(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& p : parts)
    if (message.find(p) == std::string::npos) return false;
  return true;
}

// A number as a case label shows it: 0.1, -1.5, 2.
inline std::string num(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

// A constant that an op case captures (a mask, an index), made to sit beside the op's input x: on
// x's device, and in x's dtype when both are floating point. The device comparison runs each
// case in float32 on another device, with the same captured constants. An undefined constant (no
// mask) stays undefined.
inline Tensor beside(const Tensor& constant, const Tensor& x) {
  if (!constant.defined()) return constant;
  const Tensor on_device = constant.to(x.device());
  return is_floating(constant.dtype()) && is_floating(x.dtype()) ? on_device.to(x.dtype())
                                                                 : on_device;
}

// float64 values uniform in [low, high), from a fixed seed.
inline Tensor random64(Shape shape, uint64_t seed, double low = -1.0, double high = 1.0) {
  Generator gen(seed);
  return uniform(std::move(shape), low, high, gen, DType::Float64);
}

// float64 values with |v| in [gap, 1 + gap): away from 0, where relu and max have kinks.
inline Tensor away_from_zero64(Shape shape, uint64_t seed, double gap = 0.1) {
  Tensor t = random64(std::move(shape), seed);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] += p[i] < 0 ? -gap : gap;
  return t;
}

// Largest |a - b| over all elements (shapes must match).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::fmax(worst, std::fabs(a.flat(i) - b.flat(i)));
  return worst;
}

// Largest |a| over all elements: the scale a tolerance is relative to.
inline double max_abs(const Tensor& a) {
  double largest = 0;
  for (int64_t i = 0; i < a.numel(); ++i) largest = std::fmax(largest, std::fabs(a.flat(i)));
  return largest;
}

// True when got is a bfloat16 tensor holding, bit for bit, want32 (float32) rounded to bf16:
// what a bf16 kernel computing in float32 and rounding once must give (NaNs compared by bits).
inline bool is_rounded_float32(const Tensor& got, const Tensor& want32) {
  if (got.dtype() != DType::BFloat16 || got.shape() != want32.shape()) return false;
  const Tensor want = want32.to(DType::BFloat16);
  for (int64_t i = 0; i < got.numel(); ++i)
    if (got.data<bfloat16>()[i].bits != want.data<bfloat16>()[i].bits) return false;
  return true;
}

// Runs gradcheck on f at inputs and fails the current test case with its report.
inline void check_gradients(const std::function<Variable(const std::vector<Variable>&)>& f,
                            const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(f, inputs);
  CHECK_MESSAGE(r.ok, r.report);
}

}  // namespace neat::test
