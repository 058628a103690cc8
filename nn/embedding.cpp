#include "nn/embedding.h"

#include "autograd/nn_functional.h"

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
  const int64_t* id = ids.data<int64_t>();
  for (int64_t i = 0; i < ids.numel(); ++i)
    NEAT_CHECK(id[i] >= 0 && id[i] < num_embeddings(), "Embedding: id ", id[i],
               " is outside the table of ", num_embeddings(), " rows");
  return embedding(weight, ids, padding_idx_.value_or(-1));
}

}  // namespace neat
