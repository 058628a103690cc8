// Our CPU GEMM: C = alpha * op(A) op(B) + beta * C, row-major, op = transpose or not, then an
// optional epilogue on C.
//   op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides in elements.
// Cache-blocked with packed panels, a register-tiled vectorised micro-kernel and OpenMP
// threads; see gemm.cpp for the blocking. bf16_gemm: bfloat16 operands, float32 sums
// (docs/bf16.md).
#pragma once
#include <cstdint>

#include <type_traits>

#include "tensor/half.h"

namespace neat {

// What the GEMM does to C as it stores each tile, while the tile is in cache, so that it costs
// no pass over C of its own (all off by default), in this order:
//   bias      N values added to every row of C (a Linear's bias);
//   residual  an M x N matrix, with C's row stride, added to the finished C (a residual
//             connection: autograd/matmul.h's linear_add), so C is the same bits as the
//             product, then add(C, residual);
//   gelu      then gelu(C), the exact erf GELU of tensor/scalar_math.h (autograd/matmul.h's
//             linear_gelu, a Linear followed by GELU), written to ...
//   gelu_out  ... this M x N matrix, with C's row stride, so that C keeps the product (what
//             GELU's backward needs); null: over C itself.
template <typename T>
struct GemmEpilogue {
  const T* bias = nullptr;
  const T* residual = nullptr;
  bool gelu = false;
  T* gelu_out = nullptr;
};

// A second product summed into the first, as more k steps of the same tiles:
//   C = alpha (op(A) op(B) + scale op(A2) op(B2)) + beta C, then the epilogue,
// op(A2) M x k, op(B2) k x N, each operand with its own transpose flag and row stride. For a
// small k: a rank-r adapter's update beside its frozen weight (LoRA's and Neat's
// y = x W0^T + s z B^T, and their dx = dy W0 + dz A), which then costs no pass over C.
// a == nullptr or k == 0: none. For bfloat16 operands the scale is a float.
template <typename T>
struct GemmSecondProduct {
  const T* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  const T* b = nullptr;
  int64_t ldb = 0;
  bool trans_b = false;
  int64_t k = 0;
  math_t<T> scale = 1;  // tensor/half.h
};

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, const GemmEpilogue<float>& epilogue = {},
           const GemmSecondProduct<float>& second = {});
void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
           const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
           int64_t ldc, const GemmEpilogue<double>& epilogue = {},
           const GemmSecondProduct<double>& second = {});

// bfloat16 A and B, float32 sums: C = alpha op(A) op(B) + beta C (+ the second product, also
// bf16), then the epilogue, whose operands have C's type. C is float32, or bfloat16: then the
// float32 result, epilogue included, is rounded once, to nearest even, as it is stored (GELU's
// gelu_out from the float32 sum too). The kernel is chosen at run time by what the CPU has
// (bf16_gemm_path()): AMX tiles, the AVX512-BF16 dot product, or else the operands widened to
// float32 as they are packed for the float32 kernels (half the memory, float32's speed).
void bf16_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb, float beta,
               float* C, int64_t ldc, const GemmEpilogue<float>& epilogue = {},
               const GemmSecondProduct<bfloat16>& second = {});
void bf16_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb, float beta,
               bfloat16* C, int64_t ldc, const GemmEpilogue<bfloat16>& epilogue = {},
               const GemmSecondProduct<bfloat16>& second = {});

// sgemm, dgemm or bf16_gemm (above), chosen by T (float, double or bfloat16; alpha and beta
// in math_t<T>: float for bfloat16, whose C is then bfloat16 too).
template <typename T>
void typed_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, math_t<T> alpha,
                const T* A, int64_t lda, const T* B, int64_t ldb, math_t<T> beta, T* C,
                int64_t ldc, const GemmEpilogue<T>& epilogue = {},
                const GemmSecondProduct<T>& second = {}) {
  if constexpr (std::is_same_v<T, bfloat16>)
    bf16_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue, second);
  else if constexpr (sizeof(T) == 4)
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue, second);
  else
    dgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue, second);
}

// The bf16 GEMM's kernels. Convert runs everywhere (with the build's float32 kernels); Avx512Bf16
// needs AVX512F + AVX512_BF16 (vdpbf16ps: Intel Cooper Lake, Sapphire Rapids and later, AMD Zen
// 4 and later); Amx needs AMX-TILE + AMX-BF16 (tdpbf16ps: Intel Sapphire Rapids and later) and
// Linux's permission for the tile state, asked once. Products with a side of at most 16 (the
// skinny rank-r ones) always take Convert's skinny kernels, which read bf16 unpacked.
enum class Bf16GemmPath { Convert, Avx512Bf16, Amx };
const char* bf16_gemm_path_name(Bf16GemmPath path);  // "convert", "avx512-bf16", "amx"
// Whether this CPU (and OS) runs the path; when not, why_not (if given) says what is missing.
bool bf16_gemm_path_available(Bf16GemmPath path, const char** why_not = nullptr);
// The path bf16_gemm takes: the fastest available, unless a Bf16GemmPathScope is open.
Bf16GemmPath bf16_gemm_path();
// Forces a path while it lives (tests and benchmarks compare the paths); an unavailable path is
// an error naming what the CPU lacks. Not thread-safe: open it outside parallel code.
class Bf16GemmPathScope {
 public:
  explicit Bf16GemmPathScope(Bf16GemmPath path);
  ~Bf16GemmPathScope();
  Bf16GemmPathScope(const Bf16GemmPathScope&) = delete;
  Bf16GemmPathScope& operator=(const Bf16GemmPathScope&) = delete;

 private:
  int previous_;
};

// How many GEMM calls have run since start (sgemm + dgemm + bf16_gemm). Lets tests prove that a frozen
// weight's gradient GEMM never runs, without timing anything.
int64_t gemm_call_count();

}  // namespace neat
