// GEMMs with an epilogue through cuBLASLt (tensor/cuda/cublaslt.cuh).
//
// Row-major to cuBLASLt's column-major as in tensor/cuda/matmul.cu: the row-major product
// D = op(A) op(B) [M, N] is the column-major D^T [N, M] = op(B)^T op(A)^T, so our B is
// cuBLASLt's A (m = N) and our A its B (n = M). Then
//   our bias [N], one per column of D     = cuBLASLt's bias, one per row of D^T: EPILOGUE_BIAS;
//   our a_sums [M] = sum over k of op(A)  = cuBLASLt's sums over k of its B, one per column of
//                                           D^T: EPILOGUE_BGRADB.
// The workspace (what the chosen algorithm asks, at most kWorkspaceBytes) comes from the
// caching allocator (tensor/cuda/scratch.cuh), like every other scratch buffer.
#include <algorithm>
#include <type_traits>

#include "tensor/check.h"
#include "tensor/cuda/cublaslt.cuh"
#include "tensor/cuda/cublaslt_library.cuh"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/gpu.h"

namespace neat::cuda {

namespace {

// The most workspace an algorithm may use (what PyTorch gives cuBLASLt on Hopper).
constexpr size_t kWorkspaceBytes = size_t(32) << 20;

// The element type, the type of alpha and beta, and the compute type of T.
template <typename T>
struct LtTypes;
template <>
struct LtTypes<float> {
  static constexpr cudaDataType_t data = CUDA_R_32F, scale = CUDA_R_32F;
  static cublasComputeType_t compute() {
    return cuda_allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  }
};
template <>
struct LtTypes<double> {
  static constexpr cudaDataType_t data = CUDA_R_64F, scale = CUDA_R_64F;
  static cublasComputeType_t compute() { return CUBLAS_COMPUTE_64F; }
};
template <>
struct LtTypes<bfloat16> {
  static constexpr cudaDataType_t data = CUDA_R_16BF, scale = CUDA_R_32F;
  static cublasComputeType_t compute() { return CUBLAS_COMPUTE_32F; }
};

// The descriptors of one call, destroyed on every way out.
struct LtDescriptors {
  const CublasLtLibrary& lt;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, cd = nullptr;   // C and D share one
  cublasLtMatmulPreference_t preference = nullptr;
  explicit LtDescriptors(const CublasLtLibrary& library) : lt(library) {}
  LtDescriptors(const LtDescriptors&) = delete;
  LtDescriptors& operator=(const LtDescriptors&) = delete;
  ~LtDescriptors() {
    if (preference != nullptr) lt.preference_destroy(preference);
    for (cublasLtMatrixLayout_t l : {a, b, cd})
      if (l != nullptr) lt.layout_destroy(l);
    if (desc != nullptr) lt.desc_destroy(desc);
  }
  template <typename V>
  void set(cublasLtMatmulDescAttributes_t attribute, const V& value) {
    NEAT_CUBLAS_CHECK(lt.desc_set(desc, attribute, &value, sizeof(value)));
  }
};

// One handle for the process, made on first use (after the GPU is set up: stream() does it).
cublasLtHandle_t lt_handle(const CublasLtLibrary& lt) {
  static const cublasLtHandle_t handle = [&lt] {
    cublasLtHandle_t h = nullptr;
    NEAT_CUBLAS_CHECK(lt.create(&h));
    return h;
  }();
  return handle;
}

}  // namespace

template <typename T>
bool lt_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, math_t<T> alpha, const T* A,
             const T* B, math_t<T> beta, const T* C, T* D, const LtEpilogue<T>& epilogue) {
  const CublasLtLibrary* lt = cublaslt_library();
  if (lt == nullptr) return false;
  NEAT_CHECK(epilogue.bias == nullptr || epilogue.a_sums == nullptr,
             "lt_gemm: a bias and a bias gradient in one GEMM");
  using Types = LtTypes<T>;
  const cudaStream_t s = stream();   // sets the GPU up before the first handle
  const cublasLtHandle_t handle = lt_handle(*lt);
  LtDescriptors d(*lt);
  NEAT_CUBLAS_CHECK(lt->desc_create(&d.desc, Types::compute(), Types::scale));
  d.set(CUBLASLT_MATMUL_DESC_TRANSA, tb ? CUBLAS_OP_T : CUBLAS_OP_N);   // cuBLASLt's A: our B
  d.set(CUBLASLT_MATMUL_DESC_TRANSB, ta ? CUBLAS_OP_T : CUBLAS_OP_N);   // cuBLASLt's B: our A
  const void* vector = epilogue.bias != nullptr ? static_cast<const void*>(epilogue.bias)
                                                : static_cast<const void*>(epilogue.a_sums);
  const cublasLtEpilogue_t mode = epilogue.bias != nullptr     ? CUBLASLT_EPILOGUE_BIAS
                                  : epilogue.a_sums != nullptr ? CUBLASLT_EPILOGUE_BGRADB
                                                               : CUBLASLT_EPILOGUE_DEFAULT;
  d.set(CUBLASLT_MATMUL_DESC_EPILOGUE, mode);
  if (vector != nullptr) d.set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, vector);
  // Column-major shapes of the stored matrices: a row-major [R, S] is a column-major [S, R].
  const uint64_t b_rows = tb ? K : N, b_cols = tb ? N : K, a_rows = ta ? M : K,
                 a_cols = ta ? K : M;
  NEAT_CUBLAS_CHECK(lt->layout_create(&d.a, Types::data, b_rows, b_cols,
                                      std::max<int64_t>(1, int64_t(b_rows))));
  NEAT_CUBLAS_CHECK(lt->layout_create(&d.b, Types::data, a_rows, a_cols,
                                      std::max<int64_t>(1, int64_t(a_rows))));
  NEAT_CUBLAS_CHECK(lt->layout_create(&d.cd, Types::data, uint64_t(N), uint64_t(M), N));
  NEAT_CUBLAS_CHECK(lt->preference_create(&d.preference));
  const size_t most = kWorkspaceBytes;
  NEAT_CUBLAS_CHECK(lt->preference_set(d.preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                       &most, sizeof(most)));
  cublasLtMatmulHeuristicResult_t found{};
  int count = 0;
  const cublasStatus_t asked = lt->heuristic(handle, d.desc, d.a, d.b, d.cd, d.cd, d.preference,
                                             1, &found, &count);
  if (asked == CUBLAS_STATUS_NOT_SUPPORTED || (asked == CUBLAS_STATUS_SUCCESS && count == 0))
    return false;
  NEAT_CUBLAS_CHECK(asked);
  Scratch<unsigned char> workspace(int64_t(std::max<size_t>(found.workspaceSize, 256)));
  const cublasStatus_t ran =
      lt->matmul(handle, d.desc, &alpha, B, d.a, A, d.b, &beta, C != nullptr ? C : D, d.cd, D,
                 d.cd, &found.algo, workspace.data(), found.workspaceSize, s);
  if (ran == CUBLAS_STATUS_NOT_SUPPORTED) return false;
  NEAT_CUBLAS_CHECK(ran);
  return true;
}

template bool lt_gemm(bool, bool, int64_t, int64_t, int64_t, float, const float*, const float*,
                      float, const float*, float*, const LtEpilogue<float>&);
template bool lt_gemm(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                      const double*, double, const double*, double*, const LtEpilogue<double>&);
template bool lt_gemm(bool, bool, int64_t, int64_t, int64_t, float, const bfloat16*,
                      const bfloat16*, float, const bfloat16*, bfloat16*,
                      const LtEpilogue<bfloat16>&);

}  // namespace neat::cuda
