// The embedding table's gradient with padding_idx: checks and allocation here, the kernels in
// tensor/cpu/embedding.h and tensor/cuda/embedding.cu.
//
//   grad [count, D], ids [count] int64  ->  dweight [V, D]
#include "tensor/embedding.h"

#include "tensor/cpu/embedding.h"
#include "tensor/cuda/embedding.h"
#include "tensor/device_errors.h"
#include "tensor/dispatch.h"

namespace neat {

Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_embeddings,
                          int64_t padding_idx) {
  NEAT_CHECK(grad.defined() && ids.defined(), "embedding_backward: an input is undefined");
  NEAT_CHECK(ids.dtype() == DType::Int64 && ids.dim() == 1, "embedding_backward: ids ",
             dtype_name(ids.dtype()), " ", shape_str(ids.shape()), " must be int64 [count]");
  NEAT_CHECK(grad.dim() == 2 && grad.size(0) == ids.size(0), "embedding_backward: gradient ",
             shape_str(grad.shape()), " is not [", ids.size(0), ", D], one row per id");
  NEAT_CHECK(num_embeddings > 0, "embedding_backward: the table needs rows, got ",
             num_embeddings);
  NEAT_CHECK(padding_idx >= -1 && padding_idx < num_embeddings, "embedding_backward: ",
             "padding_idx ", padding_idx, " is neither -1 (none) nor a row of the table of ",
             num_embeddings);
  // Repeated ids add into one row: bf16 sums in float32, rounded once at the end (as index_add).
  if (grad.dtype() == DType::BFloat16)
    return embedding_backward(grad.to(DType::Float32), ids, num_embeddings, padding_idx)
        .to(DType::BFloat16);
  const int64_t count = ids.size(0), dim = grad.size(1);
  Tensor dweight = zeros({num_embeddings, dim}, grad.dtype(), grad.device());
  DeviceCheck check(grad.device(), CheckedValue::table_id("embedding_backward", num_embeddings,
                                                          /*at=*/true));
  dispatch({grad, ids}, "embedding_backward", [&](auto dev, auto zero) {
    using T = decltype(zero);
    embedding_backward(dev, dweight.data<T>(), grad.data<T>(), ids.data<int64_t>(), check.slot(),
                       count, num_embeddings, dim, padding_idx);
  });
  check.done();
  return dweight;
}

}  // namespace neat
