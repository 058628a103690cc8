// Every elementwise scalar function and its derivative, written once. The CPU loops
// (tensor/cpu/elementwise.h), Neat's fused op and the CUDA kernels all call these, so
// the math exists in one place. T is float or double; float's exp and erf are our own
// vectorisable versions (below), double's are libm's.
//
//   float y  = gelu_forward(0.5f);        // 0.5 x (1 + erf(x / sqrt 2))
//   float dy = gelu_derivative(0.5f);     // Phi(x) + x phi(x)
//   double d = tanh_derivative_from_output(std::tanh(0.3));   // 1 - y^2, cheaper than from x
//
// `*_derivative(x)` is f'(x) from the input; where f' is cheaper from the output y = f(x)
// (exp, sqrt, tanh, sigmoid) there is also `*_derivative_from_output(y)`.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensor/host_device.h"

namespace neat {

constexpr double kPi = 3.14159265358979323846;
constexpr double kSqrt1_2 = 0.70710678118654752440;      // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)

// ---- exp and erf ---------------------------------------------------------------------------
// A CPU loop only vectorises when everything it calls is inlined. Without -ffast-math, glibc's
// expf and erff are calls (erff alone costs ~9 ns an element, more than a whole vectorised
// gelu), so float gets the two plain-arithmetic versions below. double, which the gradient
// checks use, keeps the libm functions. scalar_exp / scalar_erf pick by type.

// e^x = 2^n e^r for float, its two parts: n = round(x / ln2) (as a float) and e^r for
// r = x - n ln2, |r| <= ln2 / 2, by Cephes' degree-5 polynomial. x within [-104, 88.8].
NEAT_HOST_DEVICE inline float exp_reduced(float x, float& n) {
  const float round = 12582912.0f;       // 1.5 * 2^23: adding and subtracting it rounds to nearest
  n = (x * 1.44269504088896341f + round) - round;               // round(x / ln2)
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // x - n ln2, ln2 split in two
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r + 1.0f;
}

// 2^n for an integer n in [-126, 127], built in the exponent bits.
NEAT_HOST_DEVICE inline float exp2_int(int32_t n) {
  const int32_t bits = (n + 127) << 23;
  float y;
  std::memcpy(&y, &bits, sizeof(float));
  return y;
}

// e^x for float within 2 ulp, and like std::exp at the edges: e^-inf = 0, e^inf = inf, NaN
// stays NaN, overflow gives inf, underflow subnormals and then 0. 2^n is built in two halves,
// so that every n from -150 to 128 stays a normal float.
NEAT_HOST_DEVICE inline float exp_poly(float x) {
  const float hi = 88.72283935546875f;   // ln(largest float)
  const float lo = -103.972084045410f;   // below: e^x rounds to 0
  float c = x > hi ? hi : x;
  c = c > lo ? c : lo;                   // also maps NaN to lo, keeping the int conversion defined
  float n;
  const float e_r = exp_reduced(c, n);
  const int32_t n1 = int32_t(n) / 2, n2 = int32_t(n) - n1;
  const float y = e_r * exp2_int(n1) * exp2_int(n2);
  return x > hi ? INFINITY : (x < lo ? 0.0f : (x == x ? y : x));
}

// e^x for x <= 0 where only normal results matter: exp_poly's value (the same bits) down to
// x = -87.3 (e^x = 2^-126, the smallest normal float), 0 below, where exp_poly gives subnormals;
// NaN gives a finite value. A third of exp_poly's time: no overflow, NaN or two-halves work.
// For GELU's density e^(-x^2/2), subnormal only for |x| > 13.2, where GELU's derivative is
// 0 or 1 to float precision.
NEAT_HOST_DEVICE inline float exp_nonpositive(float x) {
  const float lo = -87.3365478515625f;   // ln(2^-126)
  float n;
  const float e_r = exp_reduced(x > lo ? x : lo, n);
  return x < lo ? 0.0f : e_r * exp2_int(int32_t(n));
}

// erf for float, absolute error below 4e-7 (glibc's erff: 5e-8): the rational approximation
// x P(x^2) / Q(x^2) on [-4, 4] from Eigen (generic_fast_erf_float); beyond, erf is +-1 in float.
NEAT_HOST_DEVICE inline float erf_rational(float x) {
  const float c = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);  // NaN passes through
  const float c2 = c * c;
  float p = -2.72614225801306e-10f;
  p = p * c2 + 2.77068142495902e-08f;
  p = p * c2 + -2.10102402082508e-06f;
  p = p * c2 + -5.69250639462346e-05f;
  p = p * c2 + -7.34990630326855e-04f;
  p = p * c2 + -2.95459980854025e-03f;
  p = p * c2 + -1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * c2 + -2.13374055278905e-04f;
  q = q * c2 + -1.68282697438203e-03f;
  q = q * c2 + -7.37332916720468e-03f;
  q = q * c2 + -1.42647390514189e-02f;
  return c * p / q;
}

NEAT_HOST_DEVICE inline float scalar_exp(float x) { return exp_poly(x); }
NEAT_HOST_DEVICE inline double scalar_exp(double x) { return std::exp(x); }
NEAT_HOST_DEVICE inline float scalar_exp_nonpositive(float x) { return exp_nonpositive(x); }
NEAT_HOST_DEVICE inline double scalar_exp_nonpositive(double x) { return std::exp(x); }
NEAT_HOST_DEVICE inline float scalar_erf(float x) { return erf_rational(x); }
NEAT_HOST_DEVICE inline double scalar_erf(double x) { return std::erf(x); }

// identity: y = x, y' = 1
template <typename T> NEAT_HOST_DEVICE inline T identity_forward(T x) { return x; }
template <typename T> NEAT_HOST_DEVICE inline T identity_derivative(T) { return T(1); }

// neg: y = -x, y' = -1
template <typename T> NEAT_HOST_DEVICE inline T neg_forward(T x) { return -x; }
template <typename T> NEAT_HOST_DEVICE inline T neg_derivative(T) { return T(-1); }

// exp: y = e^x, y' = e^x = y
template <typename T> NEAT_HOST_DEVICE inline T exp_forward(T x) { return scalar_exp(x); }
template <typename T> NEAT_HOST_DEVICE inline T exp_derivative(T x) { return scalar_exp(x); }
template <typename T> NEAT_HOST_DEVICE inline T exp_derivative_from_output(T y) { return y; }

// log: y = ln x, y' = 1 / x
template <typename T> NEAT_HOST_DEVICE inline T log_forward(T x) { return std::log(x); }
template <typename T> NEAT_HOST_DEVICE inline T log_derivative(T x) { return T(1) / x; }

// sqrt: y = sqrt x, y' = 1 / (2 sqrt x) = 1 / (2 y)
template <typename T> NEAT_HOST_DEVICE inline T sqrt_forward(T x) { return std::sqrt(x); }
template <typename T> NEAT_HOST_DEVICE inline T sqrt_derivative(T x) { return T(0.5) / std::sqrt(x); }
template <typename T> NEAT_HOST_DEVICE inline T sqrt_derivative_from_output(T y) { return T(0.5) / y; }

// tanh: y = tanh x, y' = 1 - y^2
template <typename T> NEAT_HOST_DEVICE inline T tanh_forward(T x) { return std::tanh(x); }
template <typename T> NEAT_HOST_DEVICE inline T tanh_derivative_from_output(T y) { return T(1) - y * y; }
template <typename T> NEAT_HOST_DEVICE inline T tanh_derivative(T x) {
  return tanh_derivative_from_output(std::tanh(x));
}

// sigmoid: y = 1 / (1 + e^-x), y' = y (1 - y). For very negative x, e^-x overflows to inf
// and y correctly becomes 0 (no NaN).
template <typename T> NEAT_HOST_DEVICE inline T sigmoid_forward(T x) { return T(1) / (T(1) + scalar_exp(-x)); }
template <typename T> NEAT_HOST_DEVICE inline T sigmoid_derivative_from_output(T y) { return y * (T(1) - y); }
template <typename T> NEAT_HOST_DEVICE inline T sigmoid_derivative(T x) {
  return sigmoid_derivative_from_output(sigmoid_forward(x));
}

// silu (swish, LLaMA's MLP activation): y = x sigmoid(x), y' = s (1 + x (1 - s)), s = sigmoid(x)
template <typename T> NEAT_HOST_DEVICE inline T silu_forward(T x) { return x * sigmoid_forward(x); }
template <typename T> NEAT_HOST_DEVICE inline T silu_derivative(T x) {
  const T s = sigmoid_forward(x);
  return s * (T(1) + x * (T(1) - s));
}

// relu: y = max(x, 0), y' = 1 for x > 0 and 0 otherwise (0 at the kink, like PyTorch).
// Written `x < 0 ? 0 : x` so a NaN input stays NaN.
template <typename T> NEAT_HOST_DEVICE inline T relu_forward(T x) { return x < T(0) ? T(0) : x; }
template <typename T> NEAT_HOST_DEVICE inline T relu_derivative(T x) { return x > T(0) ? T(1) : T(0); }

// gelu, exact form: y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), with Phi the standard normal CDF
// and phi(x) = e^(-x^2/2) / sqrt(2 pi) its density: y' = Phi(x) + x phi(x).
template <typename T> NEAT_HOST_DEVICE inline T gelu_forward(T x) {
  return T(0.5) * x * (T(1) + scalar_erf(x * T(kSqrt1_2)));
}
template <typename T> NEAT_HOST_DEVICE inline T gelu_derivative(T x) {
  const T cdf = T(0.5) * (T(1) + scalar_erf(x * T(kSqrt1_2)));
  const T pdf = T(kInvSqrt2Pi) * scalar_exp_nonpositive(T(-0.5) * x * x);
  return cdf + x * pdf;
}

// sin: y = sin x, y' = cos x
template <typename T> NEAT_HOST_DEVICE inline T sin_forward(T x) { return std::sin(x); }
template <typename T> NEAT_HOST_DEVICE inline T sin_derivative(T x) { return std::cos(x); }

// sin2pi (Neat's periodic activation): y = sin(2 pi x), y' = 2 pi cos(2 pi x)
template <typename T> NEAT_HOST_DEVICE inline T sin2pi_forward(T x) { return std::sin(T(2 * kPi) * x); }
template <typename T> NEAT_HOST_DEVICE inline T sin2pi_derivative(T x) {
  return T(2 * kPi) * std::cos(T(2 * kPi) * x);
}

// pow with a constant exponent p: y = x^p, y' = p x^(p-1)
template <typename T> NEAT_HOST_DEVICE inline T pow_forward(T x, T p) { return std::pow(x, p); }
template <typename T> NEAT_HOST_DEVICE inline T pow_derivative(T x, T p) {
  return p * std::pow(x, p - T(1));
}

}  // namespace neat
