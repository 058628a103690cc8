// CUDA kernel of matmul and matmul_into (tensor/cuda/matmul.h): cuBLAS GEMMs.
//   C [count, M, N], C[t] = alpha op(A[a_index[t]]) op(B[b_index[t]]) + beta C[t]
//
// cuBLAS is column-major and our matrices are row-major. A row-major [R, S] matrix is the
// column-major [S, R] matrix with the same bytes, its transpose; so the row-major product
// C = op(A) op(B) is the column-major product C^T = op(B)^T op(A)^T, which cuBLAS computes with
// B as its first operand and A as its second, transposed exactly when we say so:
//   cublas gemm(op_b, op_a, m = N, n = M, k = K, B, ldb = tb ? K : N, A, lda = ta ? M : K, C, N).
// A batch whose entries sit at constant strides (a_index[t] = t sa, b_index[t] = t sb; a stride
// of 0 repeats one matrix) is one strided-batched call; any other batch plan, one call per entry.
//
// TF32: the handle's math mode follows cuda_set_allow_tf32 (tensor/cuda/runtime.cu), and
// CUBLAS_TF32_TENSOR_OP_MATH "allows accelerating single precision routines using TF32 tensor
// cores" (cublas_api.h): cublasSgemm and cublasSgemmStridedBatched, the two float calls here
// (through tensor/cuda/cublas_library.cuh: cuBLAS is loaded, not linked).
// The double calls ignore it.
//
// bfloat16: cublasGemmEx / cublasGemmStridedBatchedEx with CUDA_R_16BF operands and
// CUBLAS_COMPUTE_32F (float32 sums, alpha and beta floats), C bfloat16 (rounded once) or, for
// matmul_forward's float32 output, CUDA_R_32F. Products with an epilogue (linear_forward's bias,
// residual and GELU; matmul_sum_forward's bias) go into a float32 scratch and one pass
// (bf16_epilogue below) adds, applies GELU and rounds once, the values the CPU's bf16 GEMM
// stores.
#include <algorithm>
#include <climits>
#include <type_traits>

#include "tensor/check.h"
#include "tensor/cuda/cublaslt.cuh"
#include "tensor/cuda/elementwise.h"
#include "tensor/cuda/gemm.cuh"
#include "tensor/cuda/matmul.h"
#include "tensor/cuda/reduce.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/scalar_math.h"

namespace neat::cuda {

namespace {

cublasOperation_t op_of(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

template <typename T> cudaDataType_t cuda_data_type();
template <> cudaDataType_t cuda_data_type<float>() { return CUDA_R_32F; }
template <> cudaDataType_t cuda_data_type<bfloat16>() { return CUDA_R_16BF; }

// The cuBLAS calls for T = float, double or bfloat16 (then C is bfloat16 or float, TC),
// column-major arguments as cuBLAS names them.
template <typename T, typename TC>
void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, math_t<T> alpha,
          const T* A, int lda, const T* B, int ldb, math_t<T> beta, TC* C, int ldc) {
  if constexpr (std::is_same_v<T, bfloat16>)
    NEAT_CUBLAS_CHECK(cublas_library().gemm_ex(
        cublas(), ta, tb, m, n, k, &alpha, A, CUDA_R_16BF, lda, B, CUDA_R_16BF, ldb, &beta, C,
        cuda_data_type<TC>(), ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  else if constexpr (std::is_same_v<T, float>)
    NEAT_CUBLAS_CHECK(
        cublas_library().sgemm(cublas(), ta, tb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc));
  else
    NEAT_CUBLAS_CHECK(
        cublas_library().dgemm(cublas(), ta, tb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc));
}
template <typename T, typename TC>
void gemm_strided(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                  math_t<T> alpha, const T* A, int lda, long long stride_a, const T* B, int ldb,
                  long long stride_b, math_t<T> beta, TC* C, int ldc, long long stride_c,
                  int count) {
  if constexpr (std::is_same_v<T, bfloat16>)
    NEAT_CUBLAS_CHECK(cublas_library().gemm_strided_batched_ex(
        cublas(), ta, tb, m, n, k, &alpha, A, CUDA_R_16BF, lda, stride_a, B, CUDA_R_16BF, ldb,
        stride_b, &beta, C, cuda_data_type<TC>(), ldc, stride_c, count, CUBLAS_COMPUTE_32F,
        CUBLAS_GEMM_DEFAULT));
  else if constexpr (std::is_same_v<T, float>)
    NEAT_CUBLAS_CHECK(cublas_library().sgemm_strided_batched(cublas(), ta, tb, m, n, k, &alpha, A,
                                                             lda, stride_a, B, ldb, stride_b, &beta,
                                                             C, ldc, stride_c, count));
  else
    NEAT_CUBLAS_CHECK(cublas_library().dgemm_strided_batched(cublas(), ta, tb, m, n, k, &alpha, A,
                                                             lda, stride_a, B, ldb, stride_b, &beta,
                                                             C, ldc, stride_c, count));
}

// The constant step of index[t] = t step (step >= 0), or -1 when index is not of that form.
int64_t constant_step(const int64_t* index, int64_t count) {
  const int64_t step = count > 1 ? index[1] - index[0] : 0;
  if (index[0] != 0 || step < 0) return -1;
  for (int64_t t = 0; t < count; ++t)
    if (index[t] != t * step) return -1;
  return step;
}

// cuBLAS takes int sizes and leading dimensions.
int int_size(int64_t v, const char* what) {
  NEAT_CHECK(v <= INT_MAX, "matmul: ", what, " = ", v, " exceeds cuBLAS's int range");
  return int(v);
}

// gemm_batched_rows with C of TC (T, or float under bfloat16 operands).
template <typename T, typename TC>
void gemm_rows(bool ta, bool tb, int64_t M, int64_t N, int64_t K, math_t<T> alpha, const T* A,
               int64_t lda, int64_t sa, const T* B, int64_t ldb, int64_t sb, math_t<T> beta,
               TC* C, int64_t ldc, int64_t sc, int64_t count) {
  if (count == 0 || M == 0 || N == 0) return;
  // Leading dimensions at least 1, as cuBLAS asks (K may be 0).
  gemm_strided<T, TC>(op_of(tb), op_of(ta), int_size(N, "N"), int_size(M, "M"),
                      int_size(K, "K"), alpha, B, int_size(std::max<int64_t>(1, ldb), "ldb"),
                      (long long)sb, A, int_size(std::max<int64_t>(1, lda), "lda"),
                      (long long)sa, beta, C, int_size(std::max<int64_t>(1, ldc), "ldc"),
                      (long long)sc, int_size(count, "batch"));
}

}  // namespace

template <typename T>
void gemm_batched_rows(bool ta, bool tb, int64_t M, int64_t N, int64_t K, math_t<T> alpha,
                       const T* A, int64_t lda, int64_t sa, const T* B, int64_t ldb, int64_t sb,
                       math_t<T> beta, T* C, int64_t ldc, int64_t sc, int64_t count) {
  gemm_rows<T, T>(ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, count);
}

template <typename T, typename TC>
void matmul_forward(Cuda, bool ta, bool tb, int64_t M, int64_t N, int64_t K, math_t<T> alpha,
                    const T* A, const T* B, math_t<T> beta, TC* C, const int64_t* a_index,
                    const int64_t* b_index, int64_t count) {
  if (count == 0 || M == 0 || N == 0) return;
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  const int64_t sa = constant_step(a_index, count), sb = constant_step(b_index, count);
  if (sa >= 0 && sb >= 0) {
    gemm_rows<T, TC>(ta, tb, M, N, K, alpha, A, lda, sa * M * K, B, ldb, sb * K * N, beta, C, N,
                     M * N, count);
    return;
  }
  const int m = int_size(N, "N"), n = int_size(M, "M"), k = int_size(K, "K");
  for (int64_t t = 0; t < count; ++t)
    gemm<T, TC>(op_of(tb), op_of(ta), m, n, k, alpha, B + b_index[t] * K * N,
                int_size(std::max<int64_t>(1, ldb), "ldb"), A + a_index[t] * M * K,
                int_size(std::max<int64_t>(1, lda), "lda"), beta, C + t * M * N, m);
}

namespace {

// v = acc + bias[j] + residual (bias, residual may be null), float32, [rows, cols]; z = bf16(v)
// where z is not null, y = bf16(gelu(v)) when gelu, else bf16(v): the bf16 GEMM's store.
__global__ void bf16_epilogue_kernel(const float* acc, const bfloat16* bias,
                                     const bfloat16* residual, bool gelu, bfloat16* z,
                                     bfloat16* y, int64_t n, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = acc[i];
    if (bias != nullptr) v += float(bias[i % cols]);
    if (residual != nullptr) v += float(residual[i]);
    if (z != nullptr) z[i] = bfloat16(v);
    y[i] = bfloat16(gelu ? gelu_forward(v) : v);
  }
}

void bf16_epilogue(const float* acc, const bfloat16* bias, const bfloat16* residual, bool gelu,
                   bfloat16* z, bfloat16* y, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  bf16_epilogue_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(acc, bias, residual, gelu, z, y,
                                                                 n, cols);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

// The cuBLAS path of a GEMM with a bias (when cuBLASLt cannot take it, tensor/cuda/cublaslt.cuh):
// C [rows, cols] starts as the bias rows (expand's row-broadcast kernel, tensor/cuda/strided.cuh);
// returns the beta for the first GEMM into C: 1, or 0 (C overwritten) when bias is null.
template <typename T>
T start_from_bias(T* C, const T* bias, int64_t rows, int64_t cols) {
  if (bias == nullptr) return T(0);
  const int64_t shape[2] = {rows, cols}, stride[2] = {0, 1};
  expand_broadcast(Cuda{}, C, bias, 2, shape, stride);
  return T(1);
}

}  // namespace

template <typename T>
void matmul_sum_forward(Cuda, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A,
                        const T* B, bool ta2, bool tb2, int64_t K2, math_t<T> scale,
                        const T* A2, const T* B2, const T* bias, T* C) {
  if (M == 0 || N == 0) return;
  if constexpr (std::is_same_v<T, bfloat16>) {
    // Both products in one float32 sum, rounded once (a bias epilogue on the first would round
    // it before the second is added).
    Scratch<float> acc(M * N);
    gemm_rows<T, float>(ta, tb, M, N, K, 1, A, ta ? M : K, 0, B, tb ? K : N, 0, 0, acc.data(), N,
                        0, 1);
    gemm_rows<T, float>(ta2, tb2, M, N, K2, scale, A2, ta2 ? M : K2, 0, B2, tb2 ? K2 : N, 0, 1,
                        acc.data(), N, 0, 1);
    bf16_epilogue(acc.data(), bias, nullptr, false, nullptr, C, M, N);
  } else {
    // The first product with the bias in its epilogue, or the bias rows then cuBLAS.
    if (bias == nullptr || !lt_gemm<T>(ta, tb, M, N, K, T(1), A, B, T(0), nullptr, C, {bias})) {
      const T beta = start_from_bias(C, bias, M, N);
      gemm_batched_rows(ta, tb, M, N, K, T(1), A, ta ? M : K, 0, B, tb ? K : N, 0, beta, C, N,
                        0, 1);
    }
    gemm_batched_rows(ta2, tb2, M, N, K2, scale, A2, ta2 ? M : K2, 0, B2, tb2 ? K2 : N, 0, T(1),
                      C, N, 0, 1);
  }
}

template <typename T>
void linear_forward(Cuda, int64_t rows, int64_t out, int64_t in, const T* x, const T* w,
                    const T* bias, const T* residual, bool gelu, T* product, T* y) {
  if (rows == 0 || out == 0) return;
  // z = x w^T + bias + residual in one cuBLASLt GEMM (bias epilogue, C = residual, beta = 1)
  // when there is a bias or a residual. Not with bf16 GELU: y = gelu(z) is taken from the
  // float32 z, before z is rounded, as the CPU does.
  const bool epilogue = bias != nullptr || residual != nullptr;
  const bool bf16 = std::is_same_v<T, bfloat16>;
  T* z = gelu && product != nullptr ? product : y;
  if (epilogue && !(bf16 && gelu) &&
      lt_gemm<T>(false, true, rows, out, in, 1, x, w, residual != nullptr ? 1 : 0, residual, z,
                 {bias})) {
    if (gelu) unary_forward(Cuda{}, UnaryOp::Gelu, y, z, rows * out);
    return;
  }
  if constexpr (std::is_same_v<T, bfloat16>) {
    Scratch<float> acc(rows * out);
    gemm_rows<T, float>(false, true, rows, out, in, 1, x, in, 0, w, in, 0, 0, acc.data(), out, 0,
                        1);
    bf16_epilogue(acc.data(), bias, residual, gelu, gelu ? product : nullptr, y, rows, out);
  } else {
    const T beta = start_from_bias(z, bias, rows, out);
    gemm_batched_rows(false, true, rows, out, in, T(1), x, in, 0, w, in, 0, beta, z, out, 0, 1);
    if (residual != nullptr) axpy(Cuda{}, z, T(1), residual, rows * out);
    if (gelu) unary_forward(Cuda{}, UnaryOp::Gelu, y, z, rows * out);
  }
}

template <typename T>
void linear_weight_grad(Cuda, int64_t rows, int64_t out, int64_t in, const T* dy, const T* x,
                        T* dw, T* db) {
  if (out == 0 || in == 0) {
    if (db != nullptr) sum_kernel(Cuda{}, db, dy, 1, rows, out, math_t<T>(1));
    return;
  }
  // dw = dy^T x: op(A) = dy^T [OUT, rows], so the BGRADB sums over k = rows are db.
  if (db != nullptr && rows > 0 &&
      lt_gemm<T>(true, false, out, in, rows, 1, dy, x, 0, nullptr, dw, {nullptr, db}))
    return;
  gemm_batched_rows<T>(true, false, out, in, rows, 1, dy, out, 0, x, in, 0, 0, dw, in, 0, 1);
  if (db != nullptr) sum_kernel(Cuda{}, db, dy, 1, rows, out, math_t<T>(1));
}

template void gemm_batched_rows(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                int64_t, const float*, int64_t, int64_t, float, float*, int64_t,
                                int64_t, int64_t);
template void gemm_batched_rows(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                int64_t, int64_t, const double*, int64_t, int64_t, double, double*,
                                int64_t, int64_t, int64_t);
template void gemm_batched_rows(bool, bool, int64_t, int64_t, int64_t, float, const bfloat16*,
                                int64_t, int64_t, const bfloat16*, int64_t, int64_t, float,
                                bfloat16*, int64_t, int64_t, int64_t);
template void matmul_forward(Cuda, bool, bool, int64_t, int64_t, int64_t, float, const float*,
                             const float*, float, float*, const int64_t*, const int64_t*, int64_t);
template void matmul_forward(Cuda, bool, bool, int64_t, int64_t, int64_t, double, const double*,
                             const double*, double, double*, const int64_t*, const int64_t*, int64_t);
template void matmul_forward(Cuda, bool, bool, int64_t, int64_t, int64_t, float, const bfloat16*,
                             const bfloat16*, float, bfloat16*, const int64_t*, const int64_t*,
                             int64_t);
template void matmul_forward(Cuda, bool, bool, int64_t, int64_t, int64_t, float, const bfloat16*,
                             const bfloat16*, float, float*, const int64_t*, const int64_t*,
                             int64_t);

template void matmul_sum_forward(Cuda, bool, bool, int64_t, int64_t, int64_t, const float*,
                                 const float*, bool, bool, int64_t, float, const float*,
                                 const float*, const float*, float*);
template void matmul_sum_forward(Cuda, bool, bool, int64_t, int64_t, int64_t, const double*,
                                 const double*, bool, bool, int64_t, double, const double*,
                                 const double*, const double*, double*);
template void matmul_sum_forward(Cuda, bool, bool, int64_t, int64_t, int64_t, const bfloat16*,
                                 const bfloat16*, bool, bool, int64_t, float, const bfloat16*,
                                 const bfloat16*, const bfloat16*, bfloat16*);
template void linear_forward(Cuda, int64_t, int64_t, int64_t, const float*, const float*,
                             const float*, const float*, bool, float*, float*);
template void linear_forward(Cuda, int64_t, int64_t, int64_t, const double*, const double*,
                             const double*, const double*, bool, double*, double*);
template void linear_forward(Cuda, int64_t, int64_t, int64_t, const bfloat16*, const bfloat16*,
                             const bfloat16*, const bfloat16*, bool, bfloat16*, bfloat16*);

template void linear_weight_grad(Cuda, int64_t, int64_t, int64_t, const float*, const float*,
                                 float*, float*);
template void linear_weight_grad(Cuda, int64_t, int64_t, int64_t, const double*, const double*,
                                 double*, double*);
template void linear_weight_grad(Cuda, int64_t, int64_t, int64_t, const bfloat16*,
                                 const bfloat16*, bfloat16*, bfloat16*);

}  // namespace neat::cuda
