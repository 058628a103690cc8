// Matrix products on tensors: our blocked GEMM on the CPU (tensor/cpu/gemm.h), cuBLAS on CUDA
// (tensor/cuda/matmul.cu). float32, float64, or bfloat16 operands (float32 sums, a bf16 result
// rounded once: bf16_gemm on the CPU, cublasGemmEx with CUBLAS_COMPUTE_32F on CUDA; docs/bf16.md).
//
//   a [..., M, K] (or [..., K, M] with trans_a), b [..., K, N] (or [..., N, K] with trans_b)
//   -> [..., M, N], batch dims broadcast like torch.matmul.
// A 2-D b with a batched a folds a's batch into M: one large GEMM (Linear's case).
// 1-D operands are not supported (reshape them to 2-D).
//
//   Tensor y = matmul(x, w, false, /*trans_b=*/true);             // y = x w^T
//   matmul_into(y, z, v, false, /*trans_b=*/true, 0.5, 1.0);       // y += 0.5 z v^T, no temporary
#pragma once
#include "tensor/tensor.h"

namespace neat {

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// c = alpha op(a) op(b) + beta c in place (BLAS's gemm on tensors): c is preallocated with
// matmul(a, b, trans_a, trans_b)'s shape, dtype and device, and shares no memory with a or b.
// Under bfloat16 a and b, c may also be float32: the product's float32 sums kept, not rounded.
// beta = 0 overwrites c without reading it (NaNs in c do not survive).
void matmul_into(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                 double alpha, double beta);

// c [M, N] = op(a) op(b) + scale op(a2) op(b2) (+ bias [N] in every row), all 2-D: two products
// of one shape as one GEMM. On the CPU the second product's k steps follow the first's in the
// same tiles (no pass over c of its own; a rank-r adapter's update beside its frozen weight:
// LoRA's and Neat's forward and dx); on CUDA two cuBLAS GEMMs, the second adding into c.
Tensor matmul_sum(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, const Tensor& a2,
                  const Tensor& b2, bool trans_a2, bool trans_b2, double scale,
                  const Tensor& bias = Tensor());

// y = x weight^T + bias: x [rows, IN], weight [OUT, IN], bias [OUT] (undefined: none) -> y
// [rows, OUT]. On the CPU the GEMM adds the bias as it stores y (one pass over y instead of
// the GEMM's and then add(y, bias)'s); on CUDA the bias is the cuBLASLt GEMM's epilogue, or,
// where cuBLASLt cannot, y starts as the bias rows and the cuBLAS GEMM adds into it. Linear,
// LoRA and Neat forwards use it.
Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias);

// y = x weight^T + bias + residual, residual [rows, OUT]: the same bits as
// add(linear_forward(x, weight, bias), residual), with the residual added as the GEMM stores y
// on the CPU (one pass over y instead of two; a residual connection: autograd/matmul.h's
// linear_add); on CUDA as C (beta = 1) of the cuBLASLt GEMM (tensor/cuda/cublaslt.cuh), or by
// an axpy after the cuBLAS GEMM where cuBLASLt cannot.
Tensor linear_add_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          const Tensor& residual);

// y = gelu(z), z = x weight^T + bias (bias may be undefined), the exact erf GELU, [rows, OUT]:
// the same bits as gelu(linear_forward(x, weight, bias)). When `product` is given it receives
// z too (what GELU's backward needs: autograd/matmul.h's linear_gelu). On the CPU GELU runs on
// each tile of z as the GEMM stores it, so z is never read back (and, when not kept, never
// written); on CUDA it is a pass after the GEMM.
Tensor linear_gelu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           Tensor* product = nullptr);

// A linear's weight gradient dW = dy^T x [OUT, IN] from dy [rows, OUT] and x [rows, IN], and,
// when bias_grad is given, its bias gradient *bias_grad = sum over rows of dy [OUT]: the same
// values as matmul(dy, x, true, false) and sum_to(dy, {OUT}). On CUDA the bias gradient is
// summed by the weight-gradient GEMM itself (cuBLASLt's BGRADB epilogue), or a reduction after
// it where cuBLASLt cannot; on the CPU, the GEMM then the reduction.
Tensor linear_weight_grad(const Tensor& dy, const Tensor& x, Tensor* bias_grad = nullptr);

}  // namespace neat
