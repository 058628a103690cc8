// The bf16 GEMM's pieces (tensor/cpu/gemm.h's bf16_gemm; docs/bf16.md), internal to tensor/cpu/:
//
//   bf16_gemm_convert   gemm.cpp's blocked and skinny float32 kernels, op(A) and op(B) widened
//                       from bf16 as they are packed (or, on the skinny path, as they are loaded)
//   bf16_blocked_share  one thread's share of a blocked product on a bf16 instruction: packs
//                       op(A) the kernel's way and op(B) in pairs, runs Kernel on every MR x NR
//                       tile, stores the float32 tile into C with the epilogue
//   Kernel              gemm_bf16_avx512.cpp (vdpbf16ps), gemm_bf16_amx.cpp (tdpbf16ps)
//
// Both instructions multiply bf16 pairs: lane j of a 32-bit word holds op(B)[2q, j] (low half)
// and op(B)[2q + 1, j] (high half), and the instruction adds a[2q] b[2q] + a[2q+1] b[2q+1] into
// a float32. So op(B) is packed as NR-column panels of such pair rows ("VNNI" layout, what AMX
// calls B's pair-interleaved layout): panel[q * NR + j] = pair q of column j, zero past k and n.
#pragma once
#include <cstdint>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/gemm_common.h"
#include "tensor/scalar_math.h"

namespace neat::gemm_detail {

void count_gemm_call();  // gemm_call_count's counter (gemm.cpp)

void bf16_gemm_convert(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb, float beta,
                       float* C, int64_t ldc, const GemmEpilogue<float>& epilogue,
                       const GemmSecondProduct<bfloat16>& second);

// One thread's share of C[0:M, 0:N] (+)= alpha op(A) op(B), epilogue included, on each
// instruction's kernel (x86-64 only; gemm_bf16.cpp calls them where the CPU has the instruction).
void bf16_gemm_avx512_share(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                            float alpha, const bfloat16* A, int64_t lda, const bfloat16* B,
                            int64_t ldb, float beta, float* C, int64_t ldc,
                            const GemmEpilogue<float>& epilogue);
void bf16_gemm_amx_share(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb,
                         float beta, float* C, int64_t ldc, const GemmEpilogue<float>& epilogue);
constexpr int kAvx512Bf16MR = 14, kAmxMR = 32;  // the rows of C per tile, which threads split by

// Where each kernel's A panel keeps op(A)[i, p] (row i < MR of the panel, k step p):
// AVX512-BF16: pairs of one row, one 32-bit word per (pair, row), broadcast as one;
// AMX: 32 consecutive k of one row (one 64-byte tile row), in 32-row blocks of 32 k.
constexpr int64_t avx512_bf16_a_at(int i, int64_t p) {
  return (p / 2) * kAvx512Bf16MR * 2 + i * 2 + p % 2;
}
constexpr int64_t amx_a_at(int i, int64_t p) { return (p / 32) * kAmxMR * 32 + i * 32 + p % 32; }

// op(B)[0:k, 0:n] as NR-column panels of pair rows (above): panel p holds columns
// [p NR, p NR + NR), `pairs` >= ceil(k / 2) rows of NR words each (the kernel's padded k / 2).
template <int NR>
void pack_b_pairs(bool trans, int64_t k, int64_t n, const bfloat16* B, int64_t ldb,
                  int64_t pairs, uint32_t* out) {
  auto at = [&](int64_t p, int64_t j) -> uint32_t {  // op(B)[p, j]'s bits, 0 past k and n
    if (p >= k || j >= n) return 0;
    return (trans ? B[j * ldb + p] : B[p * ldb + j]).bits;
  };
  for (int64_t j0 = 0; j0 < n; j0 += NR, out += pairs * NR)
    for (int64_t q = 0; q < pairs; ++q)
      for (int j = 0; j < NR; ++j)
        out[q * NR + j] = at(2 * q, j0 + j) | (at(2 * q + 1, j0 + j) << 16);
}

// C[0:m, 0:n] = alpha tile + beta C (+ bias) (+ residual), then GELU (to gelu_out, or over C)
// when gelu: a finished tile (row stride tld) of a bf16 kernel, stored as gemm.cpp's float32
// micro-kernel stores its own. beta == 0 never reads C.
inline void store_tile(const float* tile, int64_t tld, int m, int n, float alpha, float beta,
                       const float* bias, const float* residual, bool gelu, float* gelu_out,
                       float* c, int64_t ldc) {
  for (int i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    for (int j = 0; j < n; ++j) {
      float v = alpha * tile[i * tld + j];
      if (beta != 0.0f) v += beta * ci[j];
      if (bias != nullptr) v += bias[j];
      if (residual != nullptr) v += residual[i * ldc + j];
      ci[j] = v;
    }
    if (gelu) {
      float* out = gelu_out == nullptr ? ci : gelu_out + i * ldc;
      for (int j = 0; j < n; ++j) out[j] = gelu_forward(ci[j]);
    }
  }
}

// One thread's share of a blocked bf16 product with Kernel, which provides:
//   MR, NR        the tile of C; KSTEP: k is padded to a multiple of it (2: a pair; AMX: 32)
//   KC, MC, NC    the cache blocks (in k steps, rows of C, columns of C)
//   pack_a(trans, m, kc, kpad, A, lda, out)  op(A)[0:m, 0:kc] as MR-row panels of kpad =
//                 round_up(kc, KSTEP) steps, the kernel's layout, zero past m and kc
//   run(kpad, a, b, tile)              tile[MR][NR] = a^T b over kpad steps (a panel of A, a
//                 panel of B from pack_b_pairs)
// The loops are gemm.cpp's gemm_blocked: ic (MC), pc (KC: pack A), jc (NC: pack B), tiles; the
// bias goes on with the first k block, the residual and GELU with the last.
template <typename Kernel>
void bf16_blocked_share(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb,
                        float beta, float* C, int64_t ldc, const GemmEpilogue<float>& e) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  thread_local Scratch a_buffer, b_buffer;
  const int64_t nc = std::min<int64_t>(Kernel::NC, round_up(N, NR));
  const int64_t kmax = round_up(std::min<int64_t>(Kernel::KC, K), Kernel::KSTEP);
  bfloat16* a_pack = a_buffer.get<bfloat16>(round_up(std::min<int64_t>(Kernel::MC, M), MR) * kmax);
  uint32_t* b_pack = b_buffer.get<uint32_t>(kmax / 2 * round_up(nc, NR));
  alignas(64) float tile[MR * NR];
  for (int64_t ic = 0; ic < M; ic += Kernel::MC) {
    const int64_t m = std::min<int64_t>(Kernel::MC, M - ic);
    for (int64_t pc = 0; pc < K; pc += Kernel::KC) {
      const int64_t kc = std::min<int64_t>(Kernel::KC, K - pc), kpad = round_up(kc, Kernel::KSTEP);
      const bool first_k = pc == 0, last_k = pc + kc == K;
      Kernel::pack_a(trans_a, m, kc, kpad, op_at(A, lda, trans_a, ic, pc), lda, a_pack);
      for (int64_t jc = 0; jc < N; jc += nc) {
        const int64_t n = std::min(nc, N - jc);
        pack_b_pairs<NR>(trans_b, kc, n, op_at(B, ldb, trans_b, pc, jc), ldb, kpad / 2, b_pack);
        for (int64_t ir = 0; ir < m; ir += MR)
          for (int64_t jr = 0; jr < n; jr += NR) {
            Kernel::run(kpad, a_pack + ir * kpad, b_pack + jr * kpad / 2, tile);
            const int64_t row = ic + ir, col = jc + jr;
            store_tile(tile, NR, int(std::min<int64_t>(MR, m - ir)),
                       int(std::min<int64_t>(NR, n - jr)), alpha, first_k ? beta : 1.0f,
                       first_k && e.bias ? e.bias + col : nullptr,
                       last_k && e.residual ? e.residual + row * ldc + col : nullptr,
                       last_k && e.gelu, e.gelu_out ? e.gelu_out + row * ldc + col : nullptr,
                       C + row * ldc + col, ldc);
          }
      }
    }
  }
}

// op(A)[0:m, 0:kc] into MR-row panels of kpad steps, element (i, p) of a panel at
// offset(i, p); zero past m and kc. Walks A in its memory order.
template <int MR, typename Offset>
void pack_a_panels(bool trans, int64_t m, int64_t kc, int64_t kpad, const bfloat16* A,
                   int64_t lda, bfloat16* out, Offset offset) {
  const int64_t rows = round_up(m, MR);
  for (int64_t e = 0; e < rows * kpad; ++e) out[e] = bfloat16::from_bits(0);
  for (int64_t r = 0; r < (trans ? kc : m); ++r)
    for (int64_t s = 0; s < (trans ? m : kc); ++s) {
      const int64_t i = trans ? s : r, p = trans ? r : s;
      out[(i / MR) * MR * kpad + offset(int(i % MR), p)] = A[r * lda + s];
    }
}

}  // namespace neat::gemm_detail
