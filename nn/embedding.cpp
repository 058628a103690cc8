#include "nn/embedding.h"

#include "autograd/shape_ops.h"

namespace neat {

Embedding::Embedding(int64_t num_embeddings, int64_t dim, uint64_t seed) {
  NEAT_CHECK(num_embeddings > 0 && dim > 0, "Embedding: sizes must be positive, got ",
             num_embeddings, " x ", dim);
  Generator gen(seed);
  weight = register_parameter("weight", randn({num_embeddings, dim}, gen));
}

Variable Embedding::forward(const Tensor& ids) {
  NEAT_CHECK(ids.dtype() == DType::Int64, "Embedding: ids must be int64, got ",
             dtype_name(ids.dtype()));
  const int64_t* id = ids.data<int64_t>();
  for (int64_t i = 0; i < ids.numel(); ++i)
    NEAT_CHECK(id[i] >= 0 && id[i] < num_embeddings(), "Embedding: id ", id[i],
               " is outside the table of ", num_embeddings(), " rows");
  Shape out_shape = ids.shape();
  out_shape.push_back(dim());
  return reshape(index_select(weight, 0, ids.reshape({ids.numel()})), out_shape);
}

}  // namespace neat
