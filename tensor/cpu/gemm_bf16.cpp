// bf16_gemm (tensor/cpu/gemm.h): which kernel runs, chosen once from CPUID, and the bf16 C
// output. docs/bf16.md has the paths and their accuracy.
//
//   Amx         Intel AMX tiles, tdpbf16ps (gemm_bf16_amx.cpp)
//   Avx512Bf16  vdpbf16ps on zmm registers (gemm_bf16_avx512.cpp)
//   Convert     gemm.cpp's float32 kernels, op(A) and op(B) widened from bf16 as they are packed
//
// The instruction paths take the blocked products; a product with a side of at most 16 (a
// rank-r adapter's) and the degenerate ones (alpha = 0, K = 0) take Convert, whose skinny
// kernels read bf16 where it lies. A second product (GemmSecondProduct) runs on Convert after
// the instruction path's product, before the residual and GELU.
#include <algorithm>
#include <atomic>
#include <vector>

#include "tensor/check.h"
#include "tensor/cpu/gemm_bf16.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace neat {

using gemm_detail::bf16_gemm_convert;

namespace {

#if defined(__x86_64__)
struct CpuidLeaf7 {
  unsigned ebx = 0, edx = 0, eax1 = 0;  // leaf 7 subleaf 0: EBX, EDX; subleaf 1: EAX
};

CpuidLeaf7 cpuid_leaf7() {
  CpuidLeaf7 r;
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, nullptr) < 7) return r;
  __cpuid_count(7, 0, a, b, c, d);
  r.ebx = b;
  r.edx = d;
  __cpuid_count(7, 1, a, b, c, d);
  r.eax1 = a;
  return r;
}

// XCR0: which register states the OS saves on a context switch (0 without OSXSAVE).
uint64_t xcr0() {
  unsigned a, b, c, d;
  __cpuid(1, a, b, c, d);
  if (!(c & (1u << 27))) return 0;
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

const char* avx512_bf16_missing() {
  const CpuidLeaf7 leaf = cpuid_leaf7();
  if (!(leaf.ebx & (1u << 16))) return "the CPU has no AVX512F";
  if (!(leaf.eax1 & (1u << 5))) return "the CPU has no AVX512_BF16 (vdpbf16ps)";
  if ((xcr0() & 0xE6) != 0xE6) return "the OS does not save the AVX-512 registers (XCR0)";
  return nullptr;
}

// Linux gives a process the AMX tile state only when asked (arch_prctl ARCH_REQ_XCOMP_PERM,
// XFEATURE_XTILEDATA = 18); without it the first tile instruction raises SIGILL.
const char* amx_missing() {
  const CpuidLeaf7 leaf = cpuid_leaf7();
  if (!(leaf.edx & (1u << 24))) return "the CPU has no AMX-TILE";
  if (!(leaf.edx & (1u << 22))) return "the CPU has no AMX-BF16 (tdpbf16ps)";
  if ((xcr0() & (3u << 17)) != (3u << 17)) return "the OS does not save the AMX tile state (XCR0)";
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0)
    return "Linux refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM)";
#endif
  return nullptr;
}
#else
const char* avx512_bf16_missing() { return "not an x86-64 CPU"; }
const char* amx_missing() { return "not an x86-64 CPU"; }
#endif

// What each path lacks on this machine (null: available), found once.
const char* missing(Bf16GemmPath path) {
  static const char* const avx512 = avx512_bf16_missing();
  static const char* const amx = amx_missing();
  switch (path) {
    case Bf16GemmPath::Convert: return nullptr;
    case Bf16GemmPath::Avx512Bf16: return avx512;
    case Bf16GemmPath::Amx: return amx;
  }
  return "unknown path";
}

std::atomic<int> forced_path{-1};  // a Bf16GemmPathScope's path, -1: none

// Float32 C: the chosen path, or Convert where it does not apply.
void gemm_float_c(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb, float beta,
                  float* C, int64_t ldc, const GemmEpilogue<float>& epilogue,
                  const GemmSecondProduct<bfloat16>& second) {
  const Bf16GemmPath path = bf16_gemm_path();
  if (path == Bf16GemmPath::Convert || alpha == 0.0f || K <= 0 || std::min(M, N) <= 16)
    return bf16_gemm_convert(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                             epilogue, second);
  if (second.a != nullptr && second.k > 0) {  // the product with its bias, then the rest
    gemm_float_c(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                 {epilogue.bias}, {});
    return bf16_gemm_convert(second.trans_a, second.trans_b, M, N, second.k,
                             alpha * second.scale, second.a, second.lda, second.b, second.ldb,
                             1.0f, C, ldc, {nullptr, epilogue.residual, epilogue.gelu,
                                            epilogue.gelu_out}, {});
  }
#if defined(__x86_64__)
  using gemm_detail::op_at;
  const bool amx = path == Bf16GemmPath::Amx;
  const int64_t mr = amx ? gemm_detail::kAmxMR : gemm_detail::kAvx512Bf16MR;
  gemm_detail::split(gemm_detail::threads_for(M, N, K), M, mr, [&](int64_t begin, int64_t end) {
    GemmEpilogue<float> e = epilogue;  // from row `begin` on
    if (e.residual) e.residual += begin * ldc;
    if (e.gelu_out) e.gelu_out += begin * ldc;
    (amx ? gemm_detail::bf16_gemm_amx_share : gemm_detail::bf16_gemm_avx512_share)(
        trans_a, trans_b, end - begin, N, K, alpha, op_at(A, lda, trans_a, begin, 0), lda, B,
        ldb, beta, C + begin * ldc, ldc, e);
  });
#endif
}

}  // namespace

const char* bf16_gemm_path_name(Bf16GemmPath path) {
  switch (path) {
    case Bf16GemmPath::Convert: return "convert";
    case Bf16GemmPath::Avx512Bf16: return "avx512-bf16";
    case Bf16GemmPath::Amx: return "amx";
  }
  return "?";
}

bool bf16_gemm_path_available(Bf16GemmPath path, const char** why_not) {
  const char* lacks = missing(path);
  if (why_not != nullptr) *why_not = lacks;
  return lacks == nullptr;
}

Bf16GemmPath bf16_gemm_path() {
  const int forced = forced_path.load(std::memory_order_relaxed);
  if (forced >= 0) return Bf16GemmPath(forced);
  static const Bf16GemmPath best = bf16_gemm_path_available(Bf16GemmPath::Amx) ? Bf16GemmPath::Amx
                                   : bf16_gemm_path_available(Bf16GemmPath::Avx512Bf16)
                                       ? Bf16GemmPath::Avx512Bf16
                                       : Bf16GemmPath::Convert;
  return best;
}

Bf16GemmPathScope::Bf16GemmPathScope(Bf16GemmPath path) : previous_(forced_path.load()) {
  const char* why_not = nullptr;
  NEAT_CHECK(bf16_gemm_path_available(path, &why_not), "bf16 GEMM: the ",
             bf16_gemm_path_name(path), " path cannot run here: ", why_not);
  forced_path.store(int(path));
}
Bf16GemmPathScope::~Bf16GemmPathScope() { forced_path.store(previous_); }

void bf16_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb, float beta,
               float* C, int64_t ldc, const GemmEpilogue<float>& epilogue,
               const GemmSecondProduct<bfloat16>& second) {
  gemm_detail::count_gemm_call();
  if (M <= 0 || N <= 0) return;
  gemm_float_c(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue, second);
}

// bf16 C: the float32 result in a buffer (C widened into it first when beta reads it), then the
// residual added and everything rounded once, GELU from the float32 sum. The buffer holds one
// block of C at a time, at most kSumFloats values (1 MiB): a block of columns over every row (so
// the threads still split the rows), and of rows too when M alone would not fit. The whole
// product's buffer was as large as C in float32 (9.7 MB for ViT-B's fc1 at 394 tokens) and set
// a bf16 step's peak memory. Every element's sum runs over K in the same order either way.
void bf16_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb, float beta,
               bfloat16* C, int64_t ldc, const GemmEpilogue<bfloat16>& epilogue,
               const GemmSecondProduct<bfloat16>& second) {
  gemm_detail::count_gemm_call();
  if (M <= 0 || N <= 0) return;
  using gemm_detail::op_at;
  constexpr int64_t kSumFloats = int64_t(1) << 18, kMinSide = 64;
  const int64_t nb = std::min(N, std::max(kMinSide, kSumFloats / M));
  const int64_t mb = std::min(M, std::max(kMinSide, kSumFloats / nb));
  std::vector<float> sums(size_t(mb * nb)), bias;
  if (epilogue.bias != nullptr)
    for (int64_t j = 0; j < N; ++j) bias.push_back(float(epilogue.bias[j]));
  for (int64_t i0 = 0; i0 < M; i0 += mb)
    for (int64_t j0 = 0; j0 < N; j0 += nb) {
      const int64_t m = std::min(mb, M - i0), n = std::min(nb, N - j0);
      bfloat16* c = C + i0 * ldc + j0;
      const bfloat16* residual = epilogue.residual ? epilogue.residual + i0 * ldc + j0 : nullptr;
      if (beta != 0.0f)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) sums[size_t(i * n + j)] = float(c[i * ldc + j]);
      GemmSecondProduct<bfloat16> block_second = second;
      if (second.a != nullptr) {
        block_second.a = op_at(second.a, second.lda, second.trans_a, i0, 0);
        block_second.b = op_at(second.b, second.ldb, second.trans_b, 0, j0);
      }
      gemm_float_c(trans_a, trans_b, m, n, K, alpha, op_at(A, lda, trans_a, i0, 0), lda,
                   op_at(B, ldb, trans_b, 0, j0), ldb, beta, sums.data(), n,
                   {epilogue.bias ? bias.data() + j0 : nullptr}, block_second);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          float v = sums[size_t(i * n + j)];
          if (residual != nullptr) v += float(residual[i * ldc + j]);
          c[i * ldc + j] = bfloat16(v);
          if (epilogue.gelu)
            (epilogue.gelu_out ? epilogue.gelu_out + i0 * ldc + j0 : c)[i * ldc + j] =
                bfloat16(gelu_forward(v));
        }
    }
}

}  // namespace neat
