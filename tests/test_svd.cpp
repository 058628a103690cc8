// The SVD (Householder bidiagonalisation + implicit QR): orthogonality, reconstruction and
// ordering on tall, wide, odd, square and rank-deficient shapes; the known singular values of
// matrices built from known factors (clustered, repeated, zero and tiny values); the sign
// convention; the same bits on 1 and 2 threads; agreement with numpy's SVD on the matrices of
// the peft reference file. The randomized SVD's error bound, and PiSSA's randomized start
// (unchanged output, the adapter file's record, the progress line).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "nn/peft/pissa.h"
#include "tensor/cpu/svd_bidiag.h"
#include "tensor/elementwise.h"
#include "tensor/gpu.h"
#include "tensor/matmul.h"
#include "tensor/safetensors.h"
#include "tensor/shape_ops.h"
#include "tensor/svd.h"
#include "tests/op_test_util.h"
#include "tests/peft_test_util.h"
#include "tests/skip.h"
#include "train/options.h"

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

// q [rows, k] with orthonormal columns (k <= rows), from a seeded Gaussian matrix.
Tensor random_orthonormal(int64_t rows, int64_t k, uint64_t seed) {
  Generator gen(seed);
  return svd(randn({rows, k}, gen, DType::Float64)).U;
}

// Q1 diag(s) Q2^T [m, n] for random orthonormal Q1 [m, k], Q2 [n, k], k = s.size().
Tensor with_singular_values(int64_t m, int64_t n, const std::vector<double>& s, uint64_t seed) {
  const int64_t k = int64_t(s.size());
  Tensor q1 = random_orthonormal(m, k, seed), q2 = random_orthonormal(n, k, seed + 1);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j) q1.set({i, j}, q1.at({i, j}) * s[size_t(j)]);
  return matmul(q1, q2, false, true);
}

// The largest singular value of a (its spectral norm).
double spectral_norm(const Tensor& a) { return svd(a).S.flat(0); }

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

TEST_CASE("svd: the singular values of Q1 diag(s) Q2^T are s; float32 input gives float32; bad input") {
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
  for (double bad : {std::nan(""), double(INFINITY)})
    for (const Shape& shape : {Shape{9, 4}, Shape{4, 9}, Shape{40, 12}}) {
      Tensor m = randn(shape, gen, DType::Float64);
      m.set({2, 3}, bad);
      CHECK_THROWS_WITH_AS(svd(m), doctest::Contains("non-finite entry"), std::runtime_error);
    }
  CHECK_THROWS_WITH_AS(svd(zeros({2, 3, 4})), doctest::Contains("expects a matrix"),
                       std::runtime_error);
}

TEST_CASE("svd: the singular values of matrices with known clustered, repeated, zero and tiny ones") {
  // Descending spectra of 12 values; each is set in 40 x 12, 12 x 40, 12 x 12, 25 x 17 (the
  // first 12 of a rank-12 matrix) shapes. The error of a backward-stable SVD is a small
  // multiple of eps times the largest value, for every value, tiny ones included.
  std::vector<std::vector<double>> spectra;
  std::vector<double> clustered, repeated, zeros, tiny, graded;
  for (int i = 0; i < 12; ++i) {
    clustered.push_back(i < 6 ? 3.0 + 1e-9 * (6 - i) : 1.0 - 1e-12 * i);
    repeated.push_back(i < 4 ? 2.0 : (i < 9 ? 0.5 : 0.25));
    zeros.push_back(i < 7 ? 10.0 - i : 0.0);
    tiny.push_back(i < 9 ? 1.0 / (i + 1) : std::pow(10.0, -10 - 2 * (i - 9)));
    graded.push_back(std::pow(10.0, -1.25 * i));
  }
  for (const auto& spectrum : {clustered, repeated, zeros, tiny, graded}) {
    for (auto [m, n] : std::vector<std::pair<int64_t, int64_t>>{{40, 12}, {12, 40}, {12, 12}, {25, 17}}) {
      CAPTURE(m);
      CAPTURE(n);
      CAPTURE(spectrum[11]);
      const Tensor a = with_singular_values(m, n, spectrum, uint64_t(m * 100 + n));
      check_decomposition(a);
      const Svd d = svd(a);
      for (int64_t j = 0; j < 12; ++j)
        CHECK(std::abs(d.S.flat(j) - spectrum[size_t(j)]) < 1e-14 * 20 * spectrum[0]);
      for (int64_t j = 12; j < d.S.numel(); ++j) CHECK(d.S.flat(j) == 0.0);
    }
  }
}

TEST_CASE("svd: the blocking boundaries of the QR, the reflector panels and the rotation blocks") {
  // The tall path's QR (on a^T, panels of 64 split down to 8 columns) and Q1's panels of 64
  // reflectors: n = 8, 9, 63, 64, 65, 129 columns at m >= 2 n; the queued rotations' blocks of
  // 32 columns: rows of 31, 32, 33, 70 (and their transposes). Random matrices, a graded
  // spectrum (1 to 1e-13), a rank-deficient one and the zero matrix on each.
  for (auto [m, n] : std::vector<std::pair<int64_t, int64_t>>{
           {16, 8}, {19, 9}, {130, 63}, {128, 64}, {131, 65}, {260, 129}, {65, 130},
           {31, 31}, {32, 32}, {33, 33}, {33, 20}, {70, 40}, {40, 70}}) {
    CAPTURE(m);
    CAPTURE(n);
    const int64_t k = std::min(m, n);
    Generator gen(uint64_t(m * 1000 + n));
    check_decomposition(randn({m, n}, gen, DType::Float64));
    std::vector<double> graded;
    for (int64_t j = 0; j < k; ++j) graded.push_back(std::pow(10.0, -13.0 * double(j) / double(k - 1)));
    const Svd g = svd(with_singular_values(m, n, graded, uint64_t(m + n)));
    for (int64_t j = 0; j < k; ++j) CHECK(std::abs(g.S.flat(j) - graded[size_t(j)]) < 1e-14 * 20);
    const int64_t rank = k / 3;
    const Tensor low = matmul(randn({m, rank}, gen, DType::Float64), randn({rank, n}, gen, DType::Float64));
    check_decomposition(low);
    const Svd l = svd(low);
    for (int64_t j = rank; j < k; ++j) CHECK(l.S.flat(j) == 0.0);
    const Tensor zero = zeros({m, n}, DType::Float64);
    const Svd z = svd(zero);
    check_decomposition(zero);
    for (int64_t j = 0; j < k; ++j) CHECK(z.S.flat(j) == 0.0);
  }
}

TEST_CASE("svd: 1 x N and N x 1 rows, and the sign convention") {
  Generator gen(8);
  for (const Shape& shape : {Shape{1, 9}, Shape{9, 1}, Shape{1, 1}, Shape{3, 200}, Shape{60, 45}}) {
    CAPTURE(shape_str(shape));
    const Tensor a = randn(shape, gen, DType::Float64);
    check_decomposition(a);
    const Svd d = svd(a);
    // The entry of largest magnitude of each U column is positive.
    for (int64_t j = 0; j < d.U.size(1); ++j) {
      int64_t arg = 0;
      for (int64_t i = 1; i < d.U.size(0); ++i)
        if (std::abs(d.U.at({i, j})) > std::abs(d.U.at({arg, j}))) arg = i;
      CHECK(d.U.at({arg, j}) > 0);
    }
  }
  const Svd row = svd(from_vector(std::vector<double>{3.0, -4.0}, {1, 2}));
  CHECK(row.S.flat(0) == doctest::Approx(5.0).epsilon(1e-15));
  CHECK(row.U.flat(0) == 1.0);
  CHECK(row.Vh.flat(1) == doctest::Approx(-0.8).epsilon(1e-15));
}

#ifdef _OPENMP
TEST_CASE("svd: the same bits on 1 and 2 threads") {
  // Every parallel loop (bidiagonalisation, forming Q and P, the rotations) threaded, on a
  // tall, a wide and a much taller matrix (factored as Q R first).
  Generator gen(9);
  const int64_t saved_work = cpu::svd_parallel_work();
  cpu::svd_parallel_work() = 0;
  const int saved = omp_get_max_threads();
  for (const Shape& shape : {Shape{90, 70}, Shape{50, 83}, Shape{150, 60}, Shape{200, 97}}) {
    const Tensor a = randn(shape, gen, DType::Float64);
    omp_set_num_threads(1);
    const Svd one = svd(a);
    omp_set_num_threads(2);
    const Svd two = svd(a);
    CHECK(one.U.to_vector<double>() == two.U.to_vector<double>());
    CHECK(one.S.to_vector<double>() == two.S.to_vector<double>());
    CHECK(one.Vh.to_vector<double>() == two.Vh.to_vector<double>());
  }
  omp_set_num_threads(saved);
  cpu::svd_parallel_work() = saved_work;
}
#endif

TEST_CASE("svd_lowrank: within Halko et al.'s bound on a decaying spectrum; niter helps") {
  // sigma_i = 0.8^i on a 120 x 90 matrix; the top 6 triplets with 4 oversampling columns.
  std::vector<double> spectrum;
  for (int i = 0; i < 90; ++i) spectrum.push_back(std::pow(0.8, i));
  for (auto [m, n] : std::vector<std::pair<int64_t, int64_t>>{{120, 90}, {90, 120}}) {
    CAPTURE(m);
    const Tensor a = with_singular_values(m, n, spectrum, 31);
    const int64_t k = 6, q = k + 4;
    double previous = INFINITY;
    for (int64_t niter : {0, 1, 4}) {
      CAPTURE(niter);
      Generator gen(77);
      const Svd d = svd_lowrank(a, q, niter, gen);
      REQUIRE(d.U.shape() == Shape({m, q}));
      REQUIRE(d.Vh.shape() == Shape({q, n}));
      CHECK(relative_error(matmul(d.U, d.U, true), identity(q)) < 1e-12);
      CHECK(relative_error(matmul(d.Vh, d.Vh, false, true), identity(q)) < 1e-12);
      // ||A - U_k S_k Vh_k|| <= (1 + 9 sqrt(q min(m, n)))^(1 / (2 niter + 1)) sigma_k+1 with
      // probability >= 1 - 3 p^-p (Halko et al. 2011, corollary 10.10 with p = 4), plus the
      // truncation to k: sigma_k+1 again.
      Tensor approx = narrow(d.U, 1, 0, k).clone();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k; ++j) approx.set({i, j}, approx.at({i, j}) * d.S.flat(j));
      const Tensor rest = sub(a, matmul(approx, narrow(d.Vh, 0, 0, k).clone()));
      const double error = spectral_norm(rest), sigma = spectrum[size_t(k)];
      const double bound =
          std::pow(1 + 9 * std::sqrt(double(q * std::min(m, n))), 1.0 / double(2 * niter + 1));
      CHECK(error <= (bound + 1) * sigma);
      CHECK(error <= previous * 1.0001);
      previous = error;
      if (niter == 4) {
        CHECK(error < 1.01 * sigma);   // nearly the best rank-k approximation
        for (int64_t j = 0; j < k; ++j)
          CHECK(std::abs(d.S.flat(j) - spectrum[size_t(j)]) < 1e-3 * spectrum[size_t(j)]);
      }
    }
  }
  Generator gen(1);
  CHECK_THROWS_WITH_AS(svd_lowrank(randn({4, 6}, gen), 5, 2, gen),
                       doctest::Contains("q = 5 is not in 1..4"), std::runtime_error);
}

TEST_CASE("svd_lowrank: the same seed gives the same bits") {
  Generator gen(3);
  const Tensor a = randn({30, 20}, gen, DType::Float64);
  Generator g1(11), g2(11);
  const Svd one = svd_lowrank(a, 5, 2, g1), two = svd_lowrank(a, 5, 2, g2);
  CHECK(one.U.to_vector<double>() == two.U.to_vector<double>());
  CHECK(one.Vh.to_vector<double>() == two.Vh.to_vector<double>());
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

// ---- PiSSA's randomized start -------------------------------------------------------------

TEST_CASE("pissa niter: unchanged output at step 0, recorded in the adapter file, a progress line") {
  Generator gen(21);
  Variable pixels(randn({2, 3, 8, 8}, gen));
  ViTForImageClassification plain(tiny_peft_vit_config());
  plain.eval();
  const Tensor want = plain.forward(pixels).data();
  PeftConfig config;
  config.method = "pissa";
  config.targets = "qvmlp";
  config.lora.rank = 3;
  config.lora.seed = 0xfedcba9876543210ull;   // a seed no double holds exactly
  config.pissa_niter = 4;
  std::ostringstream progress;
  config.progress = &progress;
  ViTForImageClassification vit(tiny_peft_vit_config());
  vit.eval();
  const PeftReport report = attach_peft(vit, config);
  CHECK(report.settings.find("randomized SVD niter 4") != std::string::npos);
  CHECK(progress.str().empty());   // far below a second
  CHECK(relative_error(vit.forward(pixels).data(), want) < 1e-5);
  // The file records niter and the seed: attaching it to a fresh model rebuilds the residual.
  const std::string path = "/tmp/neat_test_svd_" + std::to_string(::getpid()) + ".safetensors";
  save_adapter(path, vit, config);
  const PeftConfig read = read_adapter_config(path);
  CHECK(read.pissa_niter == 4);
  CHECK(read.lora.seed == config.lora.seed);
  ViTForImageClassification fresh(tiny_peft_vit_config());
  fresh.eval();
  attach_adapter(path, fresh);
  CHECK(test::max_abs_diff(fresh.forward(pixels).data(), vit.forward(pixels).data()) == 0.0);
  std::remove(path.c_str());
  // MiLoRA has no randomized start.
  LoraOptions lo;
  lo.rank = 2;
  Lora lora(Linear(6, 5, true, 1), lo);
  CHECK_THROWS_WITH_AS(init_lora_from_svd(lora, SvdInit::Minor, 2),
                       doctest::Contains("MiLoRA needs the bottom ones"), std::runtime_error);
  // The progress line, as it reads when the start takes longer than the threshold.
  Lora a(Linear(6, 5, true, 2), lo), b(Linear(6, 5, true, 3), lo), c(Linear(7, 5, true, 4), lo);
  init_loras_from_svd({&a, &b, &c}, SvdInit::Principal, -1, &progress, /*announce_after=*/0);
  const std::string line = progress.str();
  CHECK(line.rfind("pissa: SVD of 3 weights (5 x 6, 5 x 7) ... ", 0) == 0);
  CHECK(line.substr(line.size() - 3) == " s\n");
}

TEST_CASE("--pissa-niter: parsed into the PiSSA config, refused with another method or below -1") {
  MethodOptions o;
  o.method = "pissa";
  CHECK(peft_config_from(o).pissa_niter == -1);   // the exact SVD by default
  o.pissa_niter = 4;
  CHECK(peft_config_from(o).pissa_niter == 4);
  o.method = "milora";
  CHECK_THROWS_WITH_AS(peft_config_from(o), doctest::Contains("applies to --method pissa only"),
                       UsageError);
  o.method = "pissa";
  o.pissa_niter = -2;
  CHECK_THROWS_WITH_AS(peft_config_from(o), doctest::Contains("--pissa-niter must be -1"),
                       UsageError);
}
