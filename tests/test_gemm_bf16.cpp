// Tests for the bf16 GEMM (tensor/cpu/gemm.h's bf16_gemm, docs/bf16.md), each path on its own:
// the conversion path (every CPU) is the float32 GEMM on the widened operands, bit for bit; every
// path is within float32 summation error of a float64 reference on the same bf16 values, for
// all transposes, odd sizes that cross the cache blocks, skinny rank-8 shapes, alpha / beta
// (beta = 0 ignoring NaN in C), the epilogue (bias, residual, GELU to gelu_out), a second
// product, and a bf16 C rounded once. The AVX512-BF16 and AMX tests skip, saying why, on a CPU
// without the instruction.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/gemm_bf16.h"
#include "tensor/random.h"
#include "tensor/scalar_math.h"
#include "tests/skip.h"

using namespace neat;

namespace {

struct Shape3 {
  int64_t M, N, K;
};

// Odd sizes around every path's tiles (6/14/32 rows, 16/32 columns, pairs, 32-step AMX k),
// across the k blocks (Convert 384, AVX512-BF16 768, AMX 512) and the skinny limit 16.
const Shape3 kShapes[] = {{1, 1, 1},    {17, 17, 17},  {33, 47, 3},   {45, 33, 129},
                          {65, 70, 800}, {70, 65, 1031}, {8, 200, 300}, {300, 8, 300},
                          {129, 16, 64}, {17, 100, 5}};

std::vector<bfloat16> random_bf16(int64_t n, Generator& gen) {
  std::vector<bfloat16> v(static_cast<size_t>(n));
  for (auto& x : v) x = bfloat16(float(gen.uniform(-1.0, 1.0)));
  return v;
}
std::vector<float> widen(const std::vector<bfloat16>& v) {
  std::vector<float> out;
  for (bfloat16 x : v) out.push_back(float(x));
  return out;
}

// One product: op(A) op(B) with lda, ldb, ldc padded by 3, and what to add to it.
struct Problem {
  bool ta, tb;
  Shape3 s;
  float alpha = 1, beta = 0;
  bool bias = false, residual = false, gelu = false, second = false;
  int64_t lda() const { return (ta ? s.M : s.K) + 3; }
  int64_t ldb() const { return (tb ? s.K : s.N) + 3; }
  int64_t ldc() const { return s.N + 3; }
};

struct Operands {
  std::vector<bfloat16> A, B, A2, B2, C, bias, residual;
};

constexpr int64_t kRank = 8;  // the second product's k (a rank-8 adapter's)

Operands make_operands(const Problem& p, Generator& gen) {
  Operands o;
  o.A = random_bf16((p.ta ? p.s.K : p.s.M) * p.lda(), gen);
  o.B = random_bf16((p.tb ? p.s.N : p.s.K) * p.ldb(), gen);
  o.A2 = random_bf16(p.s.M * kRank, gen);   // [M, r]
  o.B2 = random_bf16(p.s.N * kRank, gen);   // [N, r], used transposed
  o.C = random_bf16(p.s.M * p.ldc(), gen);
  o.bias = random_bf16(p.s.N, gen);
  o.residual = random_bf16(p.s.M * p.ldc(), gen);
  return o;
}

// The float64 result (before GELU) and the magnitude bounding its rounding (sum of |terms|).
void reference(const Problem& p, const Operands& o, std::vector<double>& want,
               std::vector<double>& scale) {
  const int64_t M = p.s.M, N = p.s.N, K = p.s.K;
  want.assign(size_t(M * N), 0);
  scale.assign(size_t(M * N), 0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double sum = 0, abs_sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = float(p.ta ? o.A[k * p.lda() + i] : o.A[i * p.lda() + k]);
        const double b = float(p.tb ? o.B[j * p.ldb() + k] : o.B[k * p.ldb() + j]);
        sum += a * b;
        abs_sum += std::fabs(a * b);
      }
      if (p.second)
        for (int64_t r = 0; r < kRank; ++r) {
          const double t = 0.5 * float(o.A2[i * kRank + r]) * float(o.B2[j * kRank + r]);
          sum += t;
          abs_sum += std::fabs(t);
        }
      double v = p.alpha * sum, mag = std::fabs(p.alpha) * abs_sum;
      const double terms[] = {p.beta == 0 ? 0.0 : p.beta * float(o.C[i * p.ldc() + j]),
                              p.bias ? double(float(o.bias[j])) : 0.0,
                              p.residual ? double(float(o.residual[i * p.ldc() + j])) : 0.0};
      for (double t : terms) {
        v += t;
        mag += std::fabs(t);
      }
      want[size_t(i * N + j)] = v;
      scale[size_t(i * N + j)] = mag;
    }
}

template <typename C>
GemmEpilogue<C> epilogue_of(const Problem& p, const C* bias, const C* residual, C* gelu_out) {
  return {p.bias ? bias : nullptr, p.residual ? residual : nullptr, p.gelu, gelu_out};
}
GemmSecondProduct<bfloat16> second_of(const Problem& p, const Operands& o) {
  if (!p.second) return {};
  return {o.A2.data(), kRank, false, o.B2.data(), kRank, true, kRank, 0.5f};
}

// The largest error of C (and of gelu_out) over its bound: float32 C within 2 (K + 12) 2^-24
// of the magnitude, a bf16 C within that plus its one rounding (2^-8 of the value: bf16's unit
// roundoff, 8 significant bits); GELU likewise from the reference sum (gelu' is at most 1.13, so
// the sum's error passes through it at most that much larger). NaN or inf: 1e300.
template <typename C>
double worst_error(const Problem& p, const std::vector<double>& want,
                   const std::vector<double>& scale, const C* c, const C* gelu_out) {
  const double rounding = std::is_same_v<C, float> ? 1e-7 : 0x1p-8;
  double worst = 0;
  for (int64_t i = 0; i < p.s.M; ++i)
    for (int64_t j = 0; j < p.s.N; ++j) {
      const size_t r = size_t(i * p.s.N + j), at = size_t(i * p.ldc() + j);
      const double sum_bound = 2.0 * (p.s.K + 12) * 0x1p-24 * scale[r] + 1e-30;
      const double w = want[r], gw = p.gelu ? gelu_forward(w) : 0.0;
      const double got = double(float(c[at]));
      double e = std::fabs(got - w) / (sum_bound + (std::is_same_v<C, float> ? 0.0 : rounding * std::fabs(w)));
      if (p.gelu)
        e = std::max(e, std::fabs(double(float(gelu_out[at])) - gw) /
                            (1.13 * sum_bound + rounding * std::fabs(gw) + 1e-30));
      worst = std::isfinite(e) ? std::max(worst, e) : 1e300;
      if (worst >= 1e300) return worst;
    }
  return worst;
}

// Runs p on the current path with a float32 C and a bf16 C and checks both (and gelu_out)
// against the reference (worst_error).
void check_problem(const Problem& p, Generator& gen) {
  const Operands o = make_operands(p, gen);
  std::vector<double> want, scale;
  reference(p, o, want, scale);
  const int64_t M = p.s.M, N = p.s.N, ldc = p.ldc();
  std::vector<float> c32 = widen(o.C), g32(c32.size(), 7.0f);
  if (p.beta == 0) c32.assign(c32.size(), std::numeric_limits<float>::quiet_NaN());
  const std::vector<float> bias32 = widen(o.bias), res32 = widen(o.residual);
  bf16_gemm(p.ta, p.tb, M, N, p.s.K, p.alpha, o.A.data(), p.lda(), o.B.data(), p.ldb(), p.beta,
            c32.data(), ldc, epilogue_of<float>(p, bias32.data(), res32.data(), g32.data()),
            second_of(p, o));
  std::vector<bfloat16> c16 = o.C, g16(c16.size(), bfloat16(7.0f));
  if (p.beta == 0) c16.assign(c16.size(), bfloat16::from_bits(0x7FC0));
  bf16_gemm(p.ta, p.tb, M, N, p.s.K, p.alpha, o.A.data(), p.lda(), o.B.data(), p.ldb(), p.beta,
            c16.data(), ldc,
            epilogue_of<bfloat16>(p, o.bias.data(), o.residual.data(), g16.data()),
            second_of(p, o));
  const double worst = std::max(worst_error(p, want, scale, c32.data(), g32.data()),
                                worst_error(p, want, scale, c16.data(), g16.data()));
  INFO("path ", std::string(bf16_gemm_path_name(bf16_gemm_path())), " trans_a=", p.ta, " trans_b=", p.tb,
       " M=", M, " N=", N, " K=", p.s.K, " alpha=", p.alpha, " beta=", p.beta, " bias=", p.bias,
       " residual=", p.residual, " gelu=", p.gelu, " second=", p.second);
  CHECK(worst <= 1.0);
}

// Every shape and transpose, then the alpha / beta / epilogue / second-product variants.
void check_path(Bf16GemmPath path) {
  const char* why_not = nullptr;
  if (!bf16_gemm_path_available(path, &why_not))
    return test::skip(std::string("bf16 GEMM path ") + bf16_gemm_path_name(path) + ": " + why_not);
  const Bf16GemmPathScope scope(path);
  Generator gen(26);
  for (const Shape3& s : kShapes)
    for (int t = 0; t < 4; ++t) check_problem({t & 1 ? true : false, t & 2 ? true : false, s}, gen);
  for (Shape3 s : {Shape3{65, 70, 800}, Shape3{300, 8, 300}, Shape3{45, 33, 129}}) {
    Problem p{false, true, s};
    p.alpha = -0.75f;
    p.beta = 0.5f;
    check_problem(p, gen);
    p.bias = p.residual = true;
    check_problem(p, gen);
    p.gelu = true;
    check_problem(p, gen);
    p.second = true;
    check_problem(p, gen);
    p.alpha = 0;  // BLAS: A and B not read; the epilogue still applies
    check_problem(p, gen);
  }
}

// A kernel for bf16_blocked_share computing what vdpbf16ps / tdpbf16ps compute, in plain C++,
// from the same packed layouts (a_at: the A panel's; B: pack_b_pairs' words), with small cache
// blocks so that every product crosses several: the instruction paths' packing, blocking and
// epilogue, checked on any CPU. (Only the instructions themselves need the hardware.)
template <int kMR, int kStep, int64_t (*a_at)(int, int64_t)>
struct EmulatedKernel {
  static constexpr int MR = kMR, NR = 32, KSTEP = kStep;
  static constexpr int64_t KC = 2 * kStep + 32, MC = 2 * kMR, NC = 64;
  static void pack_a(bool trans, int64_t m, int64_t kc, int64_t kpad, const bfloat16* A,
                     int64_t lda, bfloat16* out) {
    gemm_detail::pack_a_panels<MR>(trans, m, kc, kpad, A, lda, out, a_at);
  }
  static void run(int64_t kpad, const bfloat16* a, const uint32_t* b, float* tile) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) {
        float sum = 0;
        for (int64_t q = 0; q < kpad / 2; ++q) {
          const uint32_t pair = b[q * NR + j];
          sum += float(a[a_at(i, 2 * q)]) * bf16_to_float(uint16_t(pair & 0xFFFF)) +
                 float(a[a_at(i, 2 * q + 1)]) * bf16_to_float(uint16_t(pair >> 16));
        }
        tile[i * NR + j] = sum;
      }
  }
};

template <typename Kernel>
void check_blocked_share(const char* name) {
  Generator gen(3);
  int checked = 0;
  for (const Shape3& s : kShapes)
    for (int t = 0; t < 8; ++t) {
      Problem p{bool(t & 1), bool(t & 2), s};
      if (t & 4) {  // the epilogue, alpha and beta
        p.alpha = -0.75f;
        p.beta = 0.5f;
        p.bias = p.residual = p.gelu = true;
      }
      const Operands o = make_operands(p, gen);
      std::vector<double> want, scale;
      reference(p, o, want, scale);
      std::vector<float> c = widen(o.C), g(c.size(), 7.0f);
      if (p.beta == 0) c.assign(c.size(), std::numeric_limits<float>::quiet_NaN());
      const std::vector<float> bias = widen(o.bias), residual = widen(o.residual);
      gemm_detail::bf16_blocked_share<Kernel>(
          p.ta, p.tb, s.M, s.N, s.K, p.alpha, o.A.data(), p.lda(), o.B.data(), p.ldb(), p.beta,
          c.data(), p.ldc(), epilogue_of<float>(p, bias.data(), residual.data(), g.data()));
      INFO(name, " trans_a=", p.ta, " trans_b=", p.tb, " M=", s.M, " N=", s.N, " K=", s.K,
           " epilogue=", p.bias);
      CHECK(worst_error(p, want, scale, c.data(), g.data()) <= 1.0);
      ++checked;
    }
  CHECK(checked == 80);
}

}  // namespace

TEST_CASE("bf16 gemm: the conversion path against float64, every shape and epilogue") {
  check_path(Bf16GemmPath::Convert);
}

TEST_CASE("bf16 gemm: the AVX512-BF16 path (vdpbf16ps) against float64") {
  check_path(Bf16GemmPath::Avx512Bf16);
}

TEST_CASE("bf16 gemm: the AMX path (tdpbf16ps) against float64") {
  check_path(Bf16GemmPath::Amx);
}

TEST_CASE("bf16 gemm: the conversion path is sgemm on the widened operands, bit for bit") {
  const Bf16GemmPathScope scope(Bf16GemmPath::Convert);
  Generator gen(7);
  for (Shape3 s : {Shape3{70, 65, 1031}, Shape3{300, 8, 300}, Shape3{8, 300, 300}})
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const auto A = random_bf16(s.M * s.K, gen), B = random_bf16(s.K * s.N, gen);
      const auto A32 = widen(A), B32 = widen(B);
      std::vector<float> got(size_t(s.M * s.N)), want(got.size());
      bf16_gemm(ta, tb, s.M, s.N, s.K, 1.0f, A.data(), ta ? s.M : s.K, B.data(),
                tb ? s.K : s.N, 0.0f, got.data(), s.N);
      sgemm(ta, tb, s.M, s.N, s.K, 1.0f, A32.data(), ta ? s.M : s.K, B32.data(), tb ? s.K : s.N,
            0.0f, want.data(), s.N);
      CHECK(got == want);
    }
}

TEST_CASE("bf16 gemm: the path in use is one this CPU has, and a missing one is refused by name") {
  const char* why_not = nullptr;
  CHECK(bf16_gemm_path_available(bf16_gemm_path()));
  CHECK(bf16_gemm_path_available(Bf16GemmPath::Convert, &why_not));
  CHECK(why_not == nullptr);
  for (Bf16GemmPath path : {Bf16GemmPath::Avx512Bf16, Bf16GemmPath::Amx})
    if (!bf16_gemm_path_available(path, &why_not)) {
      const std::string message =
          std::string(bf16_gemm_path_name(path)) + " path cannot run here: " + why_not;
      CHECK_THROWS_WITH(Bf16GemmPathScope{path}, doctest::Contains(message.c_str()));
    }
  const int64_t before = gemm_call_count();
  const std::vector<bfloat16> a(4, bfloat16(1.0f));
  std::vector<float> c(4);
  bf16_gemm(false, false, 2, 2, 2, 1.0f, a.data(), 2, a.data(), 2, 0.0f, c.data(), 2);
  CHECK(c == std::vector<float>(4, 2.0f));
  CHECK(gemm_call_count() == before + 1);
}

TEST_CASE("bf16 gemm: the instruction paths' packing and blocking, on emulated kernels") {
  check_blocked_share<EmulatedKernel<gemm_detail::kAvx512Bf16MR, 2, gemm_detail::avx512_bf16_a_at>>(
      "avx512-bf16 layout");
  check_blocked_share<EmulatedKernel<gemm_detail::kAmxMR, 32, gemm_detail::amx_a_at>>("amx layout");
}
