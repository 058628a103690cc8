// SVD by one-sided Jacobi: orthogonality, reconstruction and ordering on tall, wide, odd,
// square and rank-deficient shapes; the known singular values of a constructed matrix; agreement
// with numpy's SVD on the matrices of the peft reference file.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "tensor/gpu.h"
#include "tensor/matmul.h"
#include "tensor/safetensors.h"
#include "tensor/shape_ops.h"
#include "tensor/svd.h"
#include "tests/peft_test_util.h"
#include "tests/skip.h"

using namespace neat;

namespace {


Tensor identity(int64_t n) {
  Tensor t = zeros({n, n}, DType::Float64);
  for (int64_t i = 0; i < n; ++i) t.set({i, i}, 1.0);
  return t;
}

// a = U diag(S) Vh with U^T U = I, Vh Vh^T = I, S descending and >= 0.
void check_decomposition(const Tensor& a) {
  Svd d = svd(a);
  const int64_t m = a.size(0), n = a.size(1), k = std::min(m, n);
  REQUIRE(d.U.shape() == Shape({m, k}));
  REQUIRE(d.S.shape() == Shape({k}));
  REQUIRE(d.Vh.shape() == Shape({k, n}));
  CHECK(relative_error(matmul(d.U, d.U, true), identity(k)) < 1e-12);
  CHECK(relative_error(matmul(d.Vh, d.Vh, false, true), identity(k)) < 1e-12);
  for (int64_t i = 0; i < k; ++i) {
    CHECK(d.S.flat(i) >= 0);
    if (i > 0) CHECK(d.S.flat(i) <= d.S.flat(i - 1));
  }
  Tensor us = d.U.clone();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j) us.set({i, j}, us.at({i, j}) * d.S.flat(j));
  CHECK(relative_error(matmul(us, d.Vh), a) < 1e-12);
}

}  // namespace

TEST_CASE("svd: tall, wide, square and odd shapes") {
  Generator gen(5);
  for (auto [m, n] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {7, 3}, {3, 7}, {5, 5}, {13, 11}, {11, 13}, {1, 6}, {6, 1}, {37, 19}}) {
    CAPTURE(m);
    CAPTURE(n);
    check_decomposition(randn({m, n}, gen, DType::Float64));
  }
}

TEST_CASE("svd: rank-deficient matrices get orthonormal null vectors and zero values") {
  Generator gen(6);
  for (auto [m, n, rank] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {9, 6, 2}, {6, 9, 2}, {7, 7, 1}, {5, 4, 0}}) {
    CAPTURE(m);
    CAPTURE(n);
    CAPTURE(rank);
    Tensor a = rank == 0 ? zeros({m, n}, DType::Float64)
                         : matmul(randn({m, rank}, gen, DType::Float64),
                                  randn({rank, n}, gen, DType::Float64));
    check_decomposition(a);
    Svd d = svd(a);
    for (int64_t i = rank; i < std::min(m, n); ++i) CHECK(d.S.flat(i) == 0.0);
  }
}

TEST_CASE("svd: the singular values of Q1 diag(s) Q2^T are s; float32 input gives float32") {
  Generator gen(7);
  // Orthonormal Q1 [6, 4], Q2 [5, 4] from the SVDs of random matrices.
  Tensor q1 = svd(randn({6, 4}, gen, DType::Float64)).U;
  Tensor q2 = svd(randn({5, 4}, gen, DType::Float64)).U;
  const std::vector<double> s{9.0, 4.0, 2.5, 0.125};
  Tensor scaled = q1.clone();
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 4; ++j) scaled.set({i, j}, q1.at({i, j}) * s[size_t(j)]);
  Svd d = svd(matmul(scaled, q2, false, true));
  for (int64_t j = 0; j < 4; ++j) CHECK(std::abs(d.S.flat(j) - s[size_t(j)]) < 1e-12 * s[0]);
  Svd f = svd(randn({4, 3}, gen));
  CHECK(f.U.dtype() == DType::Float32);
  CHECK_THROWS_WITH_AS(svd(zeros({2, 3, 4})), doctest::Contains("expects a matrix"),
                       std::runtime_error);
}

// numpy.linalg.svd (LAPACK) of the same matrices, from tests/parity/peft_reference.py: the
// singular values agree to rounding, and each singular vector of a nonzero, well-separated
// singular value agrees up to its sign.
TEST_CASE("svd agrees with numpy's on odd, wide, tall and rank-deficient matrices") {
  const char* path = "tests/parity/peft_reference.safetensors";
  REQUIRE_MESSAGE(std::filesystem::exists(path), path, " is missing");
  SafetensorsFile ref = read_safetensors(path);
  int checked = 0;
  for (auto& [name, a] : ref.tensors) {
    if (name.rfind("svd.", 0) != 0 || name.size() < 2 || name.substr(name.size() - 2) != ".a")
      continue;
    const std::string stem = name.substr(0, name.size() - 2);
    CAPTURE(stem);
    const Svd d = svd(a);
    const Tensor &u = ref.get(stem + ".u"), &s = ref.get(stem + ".s"), &vh = ref.get(stem + ".vh");
    const int64_t k = s.numel();
    const double top = s.flat(0);
    CHECK(relative_error(d.S, s) < 1e-12);
    for (int64_t j = 0; j < k; ++j) {
      const double gap = std::min(j > 0 ? s.flat(j - 1) - s.flat(j) : INFINITY,
                                  j + 1 < k ? s.flat(j) - s.flat(j + 1) : INFINITY);
      if (s.flat(j) < 1e-10 * top || gap < 1e-6 * top) continue;   // null space / near tie
      double du = 0, dv = 0;
      for (int64_t i = 0; i < u.size(0); ++i) du += d.U.at({i, j}) * u.at({i, j});
      for (int64_t i = 0; i < vh.size(1); ++i) dv += d.Vh.at({j, i}) * vh.at({j, i});
      CHECK(std::abs(std::abs(du) - 1) < 1e-10);
      CHECK(std::abs(du - dv) < 1e-10);   // u and v flip sign together
    }
    ++checked;
  }
  CHECK(checked == 5);
}

TEST_CASE("cuda: svd of a GPU matrix is the CPU's, bit for bit, on the GPU") {
  if (!cuda_available()) return neat::test::skip(cuda_unavailable_reason());
  Generator gen(47);
  for (const Shape& shape : {Shape{9, 4}, Shape{5, 12}}) {   // tall, and wide (transposed)
    const Tensor a = randn(shape, gen, DType::Float64);
    const Svd want = svd(a), got = svd(a.to(Device::CUDA));
    CHECK(got.U.device() == Device::CUDA);
    CHECK(got.U.to(Device::CPU).to_vector<double>() == want.U.to_vector<double>());
    CHECK(got.S.to(Device::CPU).to_vector<double>() == want.S.to_vector<double>());
    CHECK(got.Vh.to(Device::CPU).to_vector<double>() == want.Vh.to_vector<double>());
  }
}
