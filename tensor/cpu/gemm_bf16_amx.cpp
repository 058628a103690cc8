// The AMX kernel of the bf16 GEMM (gemm_bf16.h): a 32 x 32 block of C in four tile registers,
// 32 k steps per instruction:
//
//   tmm0..3  C blocks (0,0) (0,16) (16,0) (16,16): 16 rows x 16 float32 each
//   tmm4, 5  A rows 0-15 and 16-31: 16 rows x 32 bf16 (64 bytes), k contiguous
//   tmm6, 7  B columns 0-15 and 16-31: 16 pair rows x 16 columns x 2 bf16 (pair-interleaved)
//   per 32 k: 4 tile loads, 4 tdpbf16ps (C[i, j] += sum over 16 pairs of A[i, 2q] B[2q, j] +
//   A[i, 2q+1] B[2q+1, j]: 16 x 16 x 32 multiply-adds each, float32 sums)
//
// The A panel is packed as 32-row blocks of 32 k steps (one tile row = one row of A, 64 bytes);
// B is pack_b_pairs' 32-column panels, whose 16-column halves are tiles with a 128-byte stride.
// Each thread loads the tile configuration (palette 1, eight 16 x 64-byte tiles) before its
// share and releases the tiles after. GCC 12's _tile_loadconfig may drop the stores that fill
// the 64-byte configuration (its asm names 8 bytes of it: /work/shared/notes/amx-gcc12.md), so
// ldtilecfg is written here with the whole struct as its memory operand. Linux's permission for
// the tile state is asked once, in gemm_bf16.cpp, before any tile instruction runs.
#include "tensor/cpu/gemm_bf16.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace neat::gemm_detail {

namespace {

#define NEAT_AMX __attribute__((target("amx-tile,amx-bf16,avx512f")))

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row of tile t
  uint8_t rows[16] = {};
};

NEAT_AMX void configure_tiles() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.colsb[t] = 64;
    config.rows[t] = 16;
  }
  asm volatile("ldtilecfg %0" ::"m"(config));
}

NEAT_AMX void release_tiles() { asm volatile("tilerelease" ::: "memory"); }

struct AmxKernel {
  static constexpr int MR = kAmxMR, NR = 32, KSTEP = 32;
  // A micro-panel 32 x 512 bf16 = 32 KiB (L1); B block 512 x 512 bf16 = 512 KiB (L2).
  static constexpr int64_t KC = 512, MC = 1024, NC = 512;

  static void pack_a(bool trans, int64_t m, int64_t kc, int64_t kpad, const bfloat16* A,
                     int64_t lda, bfloat16* out) {
    pack_a_panels<MR>(trans, m, kc, kpad, A, lda, out, amx_a_at);
  }

  NEAT_AMX static void run(int64_t kpad, const bfloat16* a, const uint32_t* b, float* tile) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t k0 = 0; k0 < kpad; k0 += 32, a += MR * 32, b += 16 * NR) {
      _tile_loadd(4, a, 64);
      _tile_loadd(5, a + 16 * 32, 64);
      _tile_loadd(6, b, NR * 4);
      _tile_loadd(7, b + 16, NR * 4);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, tile, NR * 4);
    _tile_stored(1, tile + 16, NR * 4);
    _tile_stored(2, tile + 16 * NR, NR * 4);
    _tile_stored(3, tile + 16 * NR + 16, NR * 4);
  }
};

}  // namespace

void bf16_gemm_amx_share(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb,
                         float beta, float* C, int64_t ldc, const GemmEpilogue<float>& epilogue) {
  configure_tiles();
  bf16_blocked_share<AmxKernel>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                                epilogue);
  release_tiles();
}

}  // namespace neat::gemm_detail
#endif
