// The AVX512-BF16 kernel of the bf16 GEMM (gemm_bf16.h): a 14 x 32 tile of C in 28 zmm
// registers, as gemm.cpp's float32 AVX-512 kernel, but each step is a pair of k:
//
//   per pair q: load 2 vectors of B (32 columns x 2 bf16: pair q of each column), broadcast the
//   14 pairs (A[i, 2q], A[i, 2q+1]) of the A panel, and issue 28 vdpbf16ps:
//     acc[i][v] += A[i, 2q] B[2q, j] + A[i, 2q+1] B[2q+1, j]   (16 lanes j, float32 sums)
//
// twice the multiply-adds of an fp32 FMA per instruction, from half the bytes. vdpbf16ps
// ignores MXCSR: it rounds to nearest even and treats bf16 subnormal inputs (and float32
// subnormal results) as zero. The A panel is packed as pairs: word (q, i) = (A[i, 2q], A[i, 2q+1]).
// Compiled on every x86-64 build with a target attribute (no -mavx512bf16 needed); gemm_bf16.cpp
// calls it only where CPUID reports AVX512F and AVX512_BF16 and the OS saves the zmm state.
#include "tensor/cpu/gemm_bf16.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace neat::gemm_detail {

namespace {

#define NEAT_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

struct Avx512Bf16Kernel {
  static constexpr int MR = kAvx512Bf16MR, NR = 32, KSTEP = 2;
  // A micro-panel 14 x 768 bf16 = 21 KiB (L1); B block 768 x 672 bf16 = 1 MiB (L2).
  static constexpr int64_t KC = 768, MC = 2730 / MR * MR, NC = 672;

  static void pack_a(bool trans, int64_t m, int64_t kc, int64_t kpad, const bfloat16* A,
                     int64_t lda, bfloat16* out) {
    pack_a_panels<MR>(trans, m, kc, kpad, A, lda, out, avx512_bf16_a_at);
  }

  NEAT_AVX512_BF16 static void run(int64_t kpad, const bfloat16* a, const uint32_t* b,
                                   float* tile) {
    __m512 acc[MR][2];
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const uint32_t* pairs = reinterpret_cast<const uint32_t*>(a);
    for (int64_t q = 0; q < kpad / 2; ++q, pairs += MR, b += NR) {
      const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
      const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 16);
#pragma GCC unroll 14
      for (int i = 0; i < MR; ++i) {
        const __m512bh ai = (__m512bh)_mm512_set1_epi32(int(pairs[i]));
        acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
        acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
      }
    }
    for (int i = 0; i < MR; ++i) {
      _mm512_store_ps(tile + i * NR, acc[i][0]);
      _mm512_store_ps(tile + i * NR + 16, acc[i][1]);
    }
  }
};

}  // namespace

void bf16_gemm_avx512_share(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                            float alpha, const bfloat16* A, int64_t lda, const bfloat16* B,
                            int64_t ldb, float beta, float* C, int64_t ldc,
                            const GemmEpilogue<float>& epilogue) {
  bf16_blocked_share<Avx512Bf16Kernel>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C,
                                       ldc, epilogue);
}

}  // namespace neat::gemm_detail
#endif
