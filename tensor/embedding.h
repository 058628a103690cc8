// The gradient of an embedding table, as torch.nn.functional.embedding's backward with
// padding_idx: the rows of dy added into the rows of their ids, except that the row padding_idx
// gets nothing (it stays exactly 0, however often the padding id is looked up). The forward
// is index_select(weight, 0, ids) (tensor/shape_ops.h).
//
//   dy [count, D], ids [count] int64 in [0, V)  ->  dweight [V, D]
//   dweight[v] = sum_{i : ids[i] = v, v != padding_idx} dy[i]
//
//   Tensor dw = embedding_backward(dy, ids, /*num_embeddings=*/30522, /*padding_idx=*/0);
#pragma once
#include "tensor/tensor.h"

namespace neat {

// padding_idx: a row in [0, num_embeddings), or -1 for none (unlike torch, a negative value
// does not count from the end). An id outside the table is an error naming it and its position.
Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_embeddings,
                          int64_t padding_idx);

}  // namespace neat
