// The sparse real 2-D inverse DFT (FourierFT's Delta W) against the dense definition, its
// gradcheck, bad positions, and torch's randperm stream.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/sparse_idft2.h"
#include "tensor/gpu.h"
#include "tensor/torch_randperm.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"

using namespace neat;

namespace {

// The definition: Re(ifft2(dense))[p, q] = 1/(O I) sum_k c_k cos(2 pi (u_k p / O + v_k q / I)).
Tensor dense_definition(const Tensor& coef, const Tensor& rows, const Tensor& cols, int64_t o,
                        int64_t i) {
  Tensor out = zeros({o, i}, DType::Float64);
  const double two_pi = 2 * M_PI;
  for (int64_t p = 0; p < o; ++p)
    for (int64_t q = 0; q < i; ++q) {
      double s = 0;
      for (int64_t k = 0; k < coef.numel(); ++k)
        s += coef.flat(k) * std::cos(two_pi * (double(rows.flat(k)) * p / double(o) +
                                               double(cols.flat(k)) * q / double(i)));
      out.set({p, q}, s / double(o * i));
    }
  return out;
}

SpectrumPositions random_positions(int64_t o, int64_t i, int64_t n, uint64_t seed) {
  std::vector<int64_t> perm = torch_randperm(o * i, seed), rows, cols;
  for (int64_t k = 0; k < n; ++k) {
    rows.push_back(perm[size_t(k)] / i);
    cols.push_back(perm[size_t(k)] % i);
  }
  return spectrum_positions(from_vector(rows, {n}), from_vector(cols, {n}), o, i);
}

}  // namespace

TEST_CASE("sparse_idft2_real equals the dense inverse DFT's real part") {
  Generator gen(8);
  for (auto [o, i, n] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {7, 5, 9}, {5, 7, 35}, {1, 6, 3}, {16, 12, 40}, {9, 9, 1}}) {
    CAPTURE(o);
    CAPTURE(i);
    CAPTURE(n);
    SpectrumPositions pos = random_positions(o, i, n, uint64_t(o * 100 + i));
    Tensor coef = randn({n}, gen, DType::Float64);
    Tensor want = dense_definition(coef, pos.rows, pos.cols, o, i);
    Tensor got = sparse_idft2_real(coef, pos);
    double worst = 0, scale = 0;
    for (int64_t k = 0; k < want.numel(); ++k) {
      worst = std::max(worst, std::abs(got.flat(k) - want.flat(k)));
      scale = std::max(scale, std::abs(want.flat(k)));
    }
    CHECK(worst <= 1e-13 * scale);
    Tensor got32 = sparse_idft2_real(coef.to(DType::Float32), pos);
    for (int64_t k = 0; k < want.numel(); ++k)
      CHECK(std::abs(got32.flat(k) - want.flat(k)) <= 1e-5 * scale);
  }
}

TEST_CASE("gradcheck sparse_idft2_real") {
  Generator gen(9);
  SpectrumPositions pos = random_positions(6, 7, 11, 3);
  auto f = [&](const std::vector<Variable>& v) { return sparse_idft2_real(v[0], pos); };
  GradcheckResult r = gradcheck(f, {randn({11}, gen, DType::Float64)});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("spectrum_positions refuses positions out of range, repeated or mismatched") {
  auto ints = [](std::vector<int64_t> v) { return from_vector(v, {int64_t(v.size())}); };
  CHECK_THROWS_WITH_AS(spectrum_positions(ints({0, 3}), ints({0, 0}), 3, 2),
                       doctest::Contains("outside 3 x 2"), std::runtime_error);
  CHECK_THROWS_WITH_AS(spectrum_positions(ints({1, 1}), ints({0, 0}), 3, 2),
                       doctest::Contains("appears twice"), std::runtime_error);
  CHECK_THROWS_WITH_AS(spectrum_positions(ints({1}), ints({0, 1}), 3, 2),
                       doctest::Contains("int64 [n]"), std::runtime_error);
}

// Values printed by torch 1.13 and 2.x: torch.randperm(n, generator=torch.Generator().manual_seed(s)).
// The parity file (tests/parity/) checks more sizes and seeds against the venv's torch.
TEST_CASE("torch_randperm reproduces torch's CPU randperm") {
  CHECK(torch_randperm(10, 0) == std::vector<int64_t>{4, 1, 7, 5, 3, 9, 0, 8, 6, 2});
  CHECK(torch_randperm(10, 777) == std::vector<int64_t>{5, 9, 0, 3, 1, 7, 4, 8, 6, 2});
  std::vector<int64_t> p = torch_randperm(1000, 42);
  CHECK(std::vector<int64_t>(p.begin(), p.begin() + 8) ==
        std::vector<int64_t>{542, 618, 816, 68, 94, 215, 60, 585});
  CHECK(torch_randperm(1, 5) == std::vector<int64_t>{0});
  CHECK(torch_randperm(0, 5).empty());
}

TEST_CASE("cuda: sparse_idft2_real and its backward equal the CPU's") {
  if (!cuda_available()) return neat::test::skip(cuda_unavailable_reason());
  Generator gen(43);
  for (auto [o, i, n] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {7, 5, 9}, {16, 12, 40}, {33, 70, 200}}) {
    CAPTURE(o);
    CAPTURE(i);
    const SpectrumPositions pos = random_positions(o, i, n, uint64_t(o + i));
    const SpectrumPositions pos_gpu = spectrum_positions(pos.rows.to(Device::CUDA),
                                                         pos.cols.to(Device::CUDA), o, i);
    for (DType dt : {DType::Float32, DType::Float64}) {
      const double tol = dt == DType::Float32 ? 1e-5 : 1e-12;
      const Tensor coef = randn({n}, gen, dt), grad = randn({o, i}, gen, dt);
      const Tensor dw = sparse_idft2_real(coef, pos);
      const Tensor dcoef = sparse_idft2_real_backward(grad, pos);
      const Tensor dw_gpu = sparse_idft2_real(coef.to(Device::CUDA), pos_gpu).to(Device::CPU);
      const Tensor dcoef_gpu =
          sparse_idft2_real_backward(grad.to(Device::CUDA), pos_gpu).to(Device::CPU);
      CHECK(neat::test::max_abs_diff(dw_gpu, dw) <= tol * neat::test::max_abs(dw));
      CHECK(neat::test::max_abs_diff(dcoef_gpu, dcoef) <= tol * neat::test::max_abs(dcoef));
    }
  }
}
