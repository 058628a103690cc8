// Tests for our CPU GEMM (tensor/cpu/gemm.h) against a naive float64 triple loop: every
// transpose combination, odd sizes that leave partial micro-tiles and cross the cache blocks,
// skinny shapes (one side at most 16, as in a rank-8 adapter) on both skinny kernels, alpha/beta
// cases, the epilogue (bias, GELU), padded leading dimensions, bitwise 1 vs 2 threads, and the
// call counter.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/cpu/gemm.h"
#include "tensor/random.h"
#include "tensor/scalar_math.h"
#include "tests/skip.h"

namespace {

using neat::Generator;

struct Case {
  int64_t M, N, K;
};

// C = alpha op(A) op(B) + beta C (+ bias[j] in every row) in float64; `scale` gets
// sum |alpha a b| + |beta c| + |bias| per element, the magnitude that bounds the rounding error
// of any summation order.
template <typename T>
void reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const T* A,
               int64_t lda, const T* B, int64_t ldb, double beta, const T* C, int64_t ldc,
               const T* bias, std::vector<double>& out, std::vector<double>& scale) {
  out.assign(M * N, 0.0);
  scale.assign(M * N, 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double sum = 0, abs_sum = 0;
      for (int64_t p = 0; p < K; ++p) {
        double a = ta ? A[p * lda + i] : A[i * lda + p];
        double b = tb ? B[j * ldb + p] : B[p * ldb + j];
        sum += a * b;
        abs_sum += std::fabs(a * b);
      }
      double c = beta == 0.0 ? 0.0 : beta * double(C[i * ldc + j]);
      double b = bias == nullptr ? 0.0 : double(bias[j]);
      out[i * N + j] = alpha * sum + c + b;
      scale[i * N + j] = std::fabs(alpha) * abs_sum + std::fabs(c) + std::fabs(b);
    }
}

template <typename T>
std::vector<T> random_matrix(int64_t rows, int64_t ld, Generator& gen) {
  std::vector<T> m(rows * ld);
  for (auto& v : m) v = T(gen.uniform(-1.0, 1.0));
  return m;
}

// Runs one product with leading dimensions padded by `pad` (and a random bias when with_bias)
// and checks every element of C against the reference (error within a bound proportional to
// K eps), and that C's padding columns are untouched.
template <typename T>
void check_case(bool ta, bool tb, Case c, T alpha, T beta, int64_t pad, Generator& gen,
                bool with_bias = false) {
  const int64_t a_rows = ta ? c.K : c.M, a_cols = ta ? c.M : c.K;
  const int64_t b_rows = tb ? c.N : c.K, b_cols = tb ? c.K : c.N;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = c.N + pad;
  auto A = random_matrix<T>(a_rows, lda, gen);
  auto B = random_matrix<T>(b_rows, ldb, gen);
  auto C = random_matrix<T>(c.M, ldc, gen);
  const auto bias = random_matrix<T>(1, c.N, gen);
  const T* b = with_bias ? bias.data() : nullptr;
  if (beta == T(0))
    for (auto& v : C) v = std::numeric_limits<T>::quiet_NaN();  // BLAS: beta = 0 ignores C
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = c.N; j < ldc; ++j) C[i * ldc + j] = T(7);  // padding sentinel
  std::vector<double> want, scale;
  reference(ta, tb, c.M, c.N, c.K, double(alpha), A.data(), lda, B.data(), ldb, double(beta),
            C.data(), ldc, b, want, scale);
  neat::typed_gemm<T>(ta, tb, c.M, c.N, c.K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(),
                      ldc, {b});

  const double eps = std::numeric_limits<T>::epsilon();
  double worst = 0;  // max |got - want| / bound
  int64_t bad_pad = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double got = C[i * ldc + j];
      double bound = 2.0 * (c.K + 2) * eps * scale[i * c.N + j] + 1e-300;
      double err = std::isfinite(got) ? std::fabs(got - want[i * c.N + j]) / bound : 1e300;
      if (err > worst) worst = err;
    }
    for (int64_t j = c.N; j < ldc; ++j) bad_pad += C[i * ldc + j] != T(7);
  }
  const char* type = sizeof(T) == 4 ? "float" : "double";
  INFO(type, " trans_a=", ta, " trans_b=", tb, " M=", c.M,
       " N=", c.N, " K=", c.K, " alpha=", alpha, " beta=", beta, " pad=", pad,
       " bias=", with_bias);
  CHECK(worst <= 1.0);
  CHECK(bad_pad == 0);
}

// Sizes: 1, primes around the micro-tile widths, and ones that cross the KC/MC/NC blocks.
const Case kSquares[] = {{1, 1, 1}, {7, 7, 7}, {17, 17, 17}, {65, 65, 65}, {129, 129, 129}};
const Case kMixed[] = {{65, 7, 129}, {7, 65, 1},   {1, 257, 33}, {257, 1, 17},
                       {33, 47, 600}, {300, 31, 5}, {3, 5000, 9}, {129, 17, 65},
                       {5, 700, 200}};

template <typename T>
void check_all(Generator& gen) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      for (Case c : kSquares) check_case<T>(ta, tb, c, T(1), T(0), 0, gen);
      for (Case c : kMixed) check_case<T>(ta, tb, c, T(-0.75), T(0.5), 3, gen);
      check_case<T>(ta, tb, {257, 257, 257}, T(1.5), T(1), 1, gen);
    }
}

// Skinny shapes: N (or M, which computes C^T) in {1, 8, 9, 16, 17} around the 8-column skinny
// tile and the 16 limit, against 100 rows (2 full 48-row tiles + 4, 33 3-row groups + 1), with
// K = 1 and 8 (the blocked path for rows-contiguous op(A), the axpy kernel otherwise), and K =
// 129 and 300 (odd vector tails; 300 crosses the axpy kernel's 256-step K blocks; the dot
// kernel when op(A) rows are contiguous, K >= 8 N), for every transpose. K = 4133 crosses the
// dot kernel's 4096-step K blocks.
template <typename T>
void check_skinny(Generator& gen) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      for (int64_t narrow : {1, 8, 9, 16, 17})
        for (int64_t K : {1, 8, 129, 300}) {
          check_case<T>(ta, tb, {100, narrow, K}, T(1), T(0), 0, gen);
          check_case<T>(ta, tb, {narrow, 100, K}, T(-0.75), T(0.5), 3, gen);
        }
      check_case<T>(ta, tb, {7, 5, 4133}, T(1), T(0), 0, gen);
      check_case<T>(ta, tb, {5, 7, 4133}, T(2), T(-1), 1, gen);
    }
}

}  // namespace

TEST_CASE("gemm matches a float64 reference on skinny shapes, every transpose, alpha, beta") {
  Generator gen(4);
  check_skinny<float>(gen);
  check_skinny<double>(gen);
}

TEST_CASE("sgemm matches a float64 reference for every transpose, odd sizes, alpha, beta") {
  Generator gen(1);
  check_all<float>(gen);
}

TEST_CASE("dgemm matches a float64 reference for every transpose, odd sizes, alpha, beta") {
  Generator gen(2);
  check_all<double>(gen);
}

// The bias rides on every path: full and edge tiles, K blocks after the first (which must not
// add it again), the column split (M of 20 rows on 2 threads), both skinny kernels, and
// alpha = 0 / K = 0, where the GEMM only scales C.
TEST_CASE("gemm adds a bias to every row of C on every path, transpose and dtype") {
  Generator gen(5);
  const Case cases[] = {{65, 65, 64}, {29, 33, 7},  {33, 47, 600}, {20, 900, 100},
                        {100, 8, 300}, {8, 100, 129}, {100, 1, 8}, {3, 5000, 9}};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (Case c : cases) {
        check_case<float>(ta, tb, c, 1.0f, 0.0f, 0, gen, true);
        check_case<float>(ta, tb, c, -0.75f, 0.5f, 3, gen, true);
        check_case<double>(ta, tb, c, 1.5, 0.0, 1, gen, true);
      }
  check_case<float>(false, true, {7, 9, 0}, 1.0f, 0.5f, 0, gen, true);
  check_case<double>(false, true, {7, 9, 5}, 0.0, 0.0, 0, gen, true);
}

// The GELU epilogue: C = gelu(z) for z = op(A) op(B) + bias, against the float64 reference
// through the same function. z's error is the product's bound; gelu moves it by at most
// |gelu'| <= 1.13, plus the float GELU's own error (erf within 4e-7). On every path: edge
// tiles, a second K block (GELU only on the finished sums), the column split, both skinny
// kernels, K = 0; in place and into a separate output (gelu_out).
template <typename T>
void check_gelu_epilogue(bool ta, bool tb, Case c, Generator& gen) {
  const int64_t lda = ta ? c.M : c.K, ldb = tb ? c.K : c.N;
  auto A = random_matrix<T>(ta ? c.K : c.M, lda, gen);
  auto B = random_matrix<T>(tb ? c.N : c.K, ldb, gen);
  const auto bias = random_matrix<T>(1, c.N, gen);
  std::vector<T> C(c.M * c.N);
  std::vector<double> z, scale;
  reference(ta, tb, c.M, c.N, c.K, 1.0, A.data(), lda, B.data(), ldb, 0.0, C.data(), c.N,
            bias.data(), z, scale);
  neat::typed_gemm<T>(ta, tb, c.M, c.N, c.K, T(1), A.data(), lda, B.data(), ldb, T(0), C.data(),
                      c.N, {bias.data(), nullptr, true});
  const double eps = std::numeric_limits<T>::epsilon();
  const double own = sizeof(T) == 4 ? 2e-6 : 1e-14;  // the GELU's own error, per unit of |z|
  double worst = 0;
  for (int64_t e = 0; e < c.M * c.N; ++e) {
    const double z_bound = 2.0 * (c.K + 2) * eps * scale[e] + 1e-300;
    const double tol = own * (1 + std::fabs(z[e]));
    worst = std::max(worst, std::fabs(C[e] - neat::gelu_forward(z[e])) / (1.2 * z_bound + tol));
  }
  const char* type = sizeof(T) == 4 ? "float" : "double";
  INFO(type, " trans_a=", ta, " trans_b=", tb, " M=", c.M, " N=", c.N, " K=", c.K);
  CHECK(worst <= 1.0);

  // With gelu_out, C keeps the product (+ bias), the same bits as the GEMM without GELU, and
  // gelu_out gets the same bits as the in-place GELU above.
  std::vector<T> product(c.M * c.N), kept(c.M * c.N), out(c.M * c.N);
  neat::typed_gemm<T>(ta, tb, c.M, c.N, c.K, T(1), A.data(), lda, B.data(), ldb, T(0),
                      product.data(), c.N, {bias.data()});
  neat::typed_gemm<T>(ta, tb, c.M, c.N, c.K, T(1), A.data(), lda, B.data(), ldb, T(0),
                      kept.data(), c.N, {bias.data(), nullptr, true, out.data()});
  CHECK(kept == product);
  CHECK(out == C);
}

// check(ta, tb, c) on every path an epilogue has, for every transpose: edge tiles and the row
// split (65 x 65 x 64), K blocks after the first with the column split (33 x 47 x 900), the
// column split (20 x 900), both skinny kernels (N = 8, M = 8) and K = 0.
template <typename Check>
void on_every_epilogue_path(const Check& check) {
  const Case cases[] = {{65, 65, 64}, {33, 47, 900}, {20, 900, 100}, {100, 8, 300},
                        {8, 100, 129}, {7, 9, 0}};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (Case c : cases) check(ta, tb, c);
}

TEST_CASE("gemm's GELU epilogue gives gelu(z) on every path") {
  Generator gen(6);
  on_every_epilogue_path([&](bool ta, bool tb, Case c) {
    check_gelu_epilogue<float>(ta, tb, c, gen);
    check_gelu_epilogue<double>(ta, tb, c, gen);
  });
}

// The residual epilogue: C = (op(A) op(B) + bias) + R, the same bits as the product with its
// bias and then the addition, on every path (the residual goes on the finished sums), with C's
// row stride larger than N so that R is read at the same stride.
template <typename T>
void check_residual_epilogue(bool ta, bool tb, Case c, Generator& gen) {
  const int64_t lda = ta ? c.M : c.K, ldb = tb ? c.K : c.N, ldc = c.N + 3;
  auto A = random_matrix<T>(ta ? c.K : c.M, lda, gen);
  auto B = random_matrix<T>(tb ? c.N : c.K, ldb, gen);
  const auto bias = random_matrix<T>(1, c.N, gen);
  const auto R = random_matrix<T>(c.M, ldc, gen);
  std::vector<T> composed(c.M * ldc), fused(c.M * ldc);
  neat::typed_gemm<T>(ta, tb, c.M, c.N, c.K, T(1), A.data(), lda, B.data(), ldb, T(0),
                      composed.data(), ldc, {bias.data()});
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) composed[i * ldc + j] += R[i * ldc + j];
  neat::typed_gemm<T>(ta, tb, c.M, c.N, c.K, T(1), A.data(), lda, B.data(), ldb, T(0),
                      fused.data(), ldc, {bias.data(), R.data()});
  INFO((sizeof(T) == 4 ? "float" : "double"), " trans_a=", ta, " trans_b=", tb, " M=", c.M,
       " N=", c.N, " K=", c.K);
  CHECK(fused == composed);
}

TEST_CASE("gemm's residual epilogue adds R to the finished product on every path") {
  Generator gen(7);
  on_every_epilogue_path([&](bool ta, bool tb, Case c) {
    check_residual_epilogue<float>(ta, tb, c, gen);
    check_residual_epilogue<double>(ta, tb, c, gen);
  });
}

// The second product: C = alpha (op(A) op(B) + scale op(A2) op(B2)) + beta C + bias + R, then
// GELU into a separate output, against float64 (each product's error bound, summed), for every
// transpose of either product: one K block and several (the second product's steps go on the
// last), the row and column splits, the skinny and K = 0 / alpha = 0 paths (where it is a
// GEMM of its own before the residual and GELU).
struct SecondCase {
  int64_t M, N, K, K2;
  float alpha;
};

template <typename T>
void check_second_product(bool ta, bool tb, bool ta2, bool tb2, SecondCase c, Generator& gen) {
  const int64_t lda = ta ? c.M : c.K, ldb = tb ? c.K : c.N;
  const int64_t lda2 = ta2 ? c.M : c.K2, ldb2 = tb2 ? c.K2 : c.N;
  auto A = random_matrix<T>(ta ? c.K : c.M, lda, gen);
  auto B = random_matrix<T>(tb ? c.N : c.K, ldb, gen);
  auto A2 = random_matrix<T>(ta2 ? c.K2 : c.M, lda2, gen);
  auto B2 = random_matrix<T>(tb2 ? c.N : c.K2, ldb2, gen);
  const auto bias = random_matrix<T>(1, c.N, gen);
  const auto R = random_matrix<T>(c.M, c.N, gen);
  std::vector<T> C = random_matrix<T>(c.M, c.N, gen), out(c.M * c.N);
  const double beta = 0.5, scale = 0.3;
  std::vector<double> z1, s1, z2, s2;
  reference(ta, tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, beta, C.data(), c.N,
            bias.data(), z1, s1);
  reference(ta2, tb2, c.M, c.N, c.K2, double(c.alpha) * scale, A2.data(), lda2, B2.data(), ldb2,
            0.0, C.data(), c.N, static_cast<const T*>(nullptr), z2, s2);
  neat::typed_gemm<T>(ta, tb, c.M, c.N, c.K, T(c.alpha), A.data(), lda, B.data(), ldb, T(beta),
                      C.data(), c.N, {bias.data(), R.data(), true, out.data()},
                      {A2.data(), lda2, ta2, B2.data(), ldb2, tb2, c.K2, T(scale)});
  const double eps = std::numeric_limits<T>::epsilon();
  const double own = sizeof(T) == 4 ? 2e-6 : 1e-14;  // GELU's own error, per unit of |z|
  double worst = 0, worst_gelu = 0;
  for (int64_t e = 0; e < c.M * c.N; ++e) {
    const double z = z1[e] + z2[e] + R[e];
    const double bound = 2.0 * (c.K + c.K2 + 4) * eps * (s1[e] + s2[e] + std::fabs(R[e])) + 1e-300;
    worst = std::max(worst, std::fabs(C[e] - z) / bound);
    worst_gelu = std::max(worst_gelu, std::fabs(out[e] - neat::gelu_forward(z)) /
                                          (1.2 * bound + own * (1 + std::fabs(z))));
  }
  INFO((sizeof(T) == 4 ? "float" : "double"), " trans ", ta, tb, " second trans ", ta2, tb2,
       " M=", c.M, " N=", c.N, " K=", c.K, " K2=", c.K2, " alpha=", c.alpha);
  CHECK(worst <= 1.0);
  CHECK(worst_gelu <= 1.0);
}

TEST_CASE("gemm's second product sums into the same C on every path and transpose") {
  Generator gen(8);
  const SecondCase cases[] = {{65, 65, 64, 8, 1}, {33, 47, 900, 8, 1},   {20, 900, 100, 5, 0.75f},
                              {100, 8, 300, 8, 1}, {8, 100, 129, 3, 1}, {7, 9, 0, 4, 1},
                              {30, 40, 50, 6, 0}};
  for (int flags = 0; flags < 16; ++flags)
    for (SecondCase c : cases) {
      const bool ta = flags & 1, tb = flags & 2, ta2 = flags & 4, tb2 = flags & 8;
      check_second_product<float>(ta, tb, ta2, tb2, c, gen);
      check_second_product<double>(ta, tb, ta2, tb2, c, gen);
    }
}

TEST_CASE("gemm with K = 0 or alpha = 0 scales C by beta and never reads A or B") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> A(6, nan), B(6, nan), C = {1, 2, 3, 4};
  neat::sgemm(false, false, 2, 2, 3, 0.0f, A.data(), 3, B.data(), 2, 0.5f, C.data(), 2);
  CHECK(C == std::vector<float>{0.5f, 1, 1.5f, 2});
  neat::sgemm(true, true, 2, 2, 0, 1.0f, A.data(), 2, B.data(), 1, 2.0f, C.data(), 2);
  CHECK(C == std::vector<float>{1, 2, 3, 4});
  std::vector<double> D = {nan, nan};
  std::vector<double> Ad = {1, 2}, Bd = {3};
  neat::dgemm(false, false, 2, 1, 0, 1.0, Ad.data(), 1, Bd.data(), 1, 0.0, D.data(), 1);
  CHECK(D == std::vector<double>{0, 0});  // beta = 0 overwrites even NaN
}

TEST_CASE("gemm_call_count counts each sgemm and dgemm call once") {
  std::vector<float> A(129 * 129, 1.0f), B(129 * 129, 1.0f), C(129 * 129);
  std::vector<double> Ad(4, 1.0), Bd(4, 1.0), Cd(4);
  int64_t before = neat::gemm_call_count();
  neat::sgemm(false, true, 129, 129, 129, 1.0f, A.data(), 129, B.data(), 129, 0.0f, C.data(), 129);
  CHECK(neat::gemm_call_count() == before + 1);
  CHECK(C[128 * 129 + 5] == 129.0f);
  neat::dgemm(true, false, 2, 2, 2, 1.0, Ad.data(), 2, Bd.data(), 2, 0.0, Cd.data(), 2);
  neat::sgemm(false, false, 0, 3, 3, 1.0f, A.data(), 3, B.data(), 3, 0.0f, C.data(), 3);
  CHECK(neat::gemm_call_count() == before + 3);
}

// Square-ish (blocked kernel, split by rows and, at M = 20, by columns), and skinny N = 8 /
// M = 8 (both skinny kernels, C and C^T stored), on every transpose, with a bias (and then a
// residual and a second product as well): each big enough to run on 2 threads.
TEST_CASE("sgemm gives bitwise the same result on 1 and 2 threads") {
#ifndef _OPENMP
  neat::test::skip("built without OpenMP (NO_OMP=1): there is only one thread");
#else
  Generator gen(3);
  const Case cases[] = {{300, 200, 500}, {20, 900, 100}, {500, 8, 300}, {8, 500, 300}};
  const int saved = omp_get_max_threads();
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (Case c : cases) {
        const int64_t lda = ta ? c.M : c.K, ldb = tb ? c.K : c.N;
        auto A = random_matrix<float>(ta ? c.K : c.M, lda, gen);
        auto B = random_matrix<float>(tb ? c.N : c.K, ldb, gen);
        const auto bias = random_matrix<float>(1, c.N, gen);
        std::vector<float> C1(c.M * c.N), C2(c.M * c.N);
        omp_set_num_threads(1);
        neat::sgemm(ta, tb, c.M, c.N, c.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C1.data(),
                    c.N, {bias.data()});
        omp_set_num_threads(2);
        neat::sgemm(ta, tb, c.M, c.N, c.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C2.data(),
                    c.N, {bias.data()});
        // ... and with a residual and a rank-8 second product, which follow the split too.
        const auto R = random_matrix<float>(c.M, c.N, gen);
        const auto A2 = random_matrix<float>(c.M, 8, gen), B2 = random_matrix<float>(8, c.N, gen);
        const neat::GemmSecondProduct<float> second{A2.data(), 8, false,
                                                    B2.data(), c.N, false, 8, 0.5f};
        std::vector<float> D1(c.M * c.N), D2(c.M * c.N);
        omp_set_num_threads(1);
        neat::sgemm(ta, tb, c.M, c.N, c.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, D1.data(),
                    c.N, {bias.data(), R.data()}, second);
        omp_set_num_threads(2);
        neat::sgemm(ta, tb, c.M, c.N, c.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, D2.data(),
                    c.N, {bias.data(), R.data()}, second);
        omp_set_num_threads(saved);
        INFO("trans_a=", ta, " trans_b=", tb, " M=", c.M, " N=", c.N, " K=", c.K);
        CHECK(C1 == C2);
        CHECK(D1 == D2);
        std::vector<double> want, scale;
        reference(ta, tb, c.M, c.N, c.K, 1.0, A.data(), lda, B.data(), ldb, 0.0, C1.data(), c.N,
                  bias.data(), want, scale);
        int64_t wrong = 0;
        for (int64_t i = 0; i < c.M * c.N; ++i)
          wrong += std::fabs(C2[i] - want[i]) > 2.0 * (c.K + 2) * 6e-8 * scale[i];
        CHECK(wrong == 0);
      }
#endif
}
