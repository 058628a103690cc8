// Matrix products on tensors, backed by our blocked GEMM (tensor/cpu/gemm.h).
//
//   a [..., M, K] (or [..., K, M] with trans_a), b [..., K, N] (or [..., N, K] with trans_b)
//   -> [..., M, N], batch dims broadcast like torch.matmul.
// A 2-D b with a batched a folds a's batch into M: one large GEMM (Linear's case).
// 1-D operands are not supported (reshape them to 2-D).
#pragma once
#include "tensor/tensor.h"

namespace neat {

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

}  // namespace neat
