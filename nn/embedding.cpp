#include "nn/embedding.h"

#include "autograd/nn_functional.h"
#include "tensor/device_errors.h"

namespace neat {

Embedding::Embedding(int64_t num_embeddings, int64_t dim, uint64_t seed,
                     std::optional<int64_t> padding_idx)
    : padding_idx_(padding_idx) {
  NEAT_CHECK(num_embeddings > 0 && dim > 0, "Embedding: sizes must be positive, got ",
             num_embeddings, " x ", dim);
  NEAT_CHECK(!padding_idx || (*padding_idx >= 0 && *padding_idx < num_embeddings),
             "Embedding: padding_idx ", padding_idx.value_or(0), " is not a row of the table of ",
             num_embeddings);
  Generator gen(seed);
  weight = register_parameter("weight", randn({num_embeddings, dim}, gen));
  zero_padding_row();
}

void Embedding::zero_padding_row() {
  if (!padding_idx_) return;
  NoGradGuard no_grad;
  const Tensor w = weight.data();
  for (int64_t d = 0; d < dim(); ++d) w.set({*padding_idx_, d}, 0.0);
}

Variable Embedding::forward(const Tensor& ids) {
  NEAT_CHECK(ids.dtype() == DType::Int64, "Embedding: ids must be int64, got ",
             dtype_name(ids.dtype()));
  // On the ids' device, without waiting for the answer on CUDA in a training loop
  // (tensor/device_errors.h).
  check_indices(ids, num_embeddings(),
                CheckedValue::table_id("Embedding", num_embeddings(), /*at=*/false));
  return embedding(weight, ids, padding_idx_.value_or(-1));
}

}  // namespace neat
