// Embedding: a lookup table, as torch.nn.Embedding(num_embeddings, dim): row i of the weight is
// the vector of id i. Weight N(0, 1) like torch's default (models re-initialise it).
//   ids int64 [..] -> [.., dim]
//
//   Embedding words(30522, 384);
//   Variable h = words.forward(input_ids);   // input_ids [B, N] -> [B, N, 384]
//
// The gradient of the weight is the index_select backward: dy rows added into the rows of
// the ids they came from (an id used twice gets both).
#pragma once
#include "nn/module.h"

namespace neat {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, uint64_t seed = 0);
  // ids: int64 of any shape, each in [0, num_embeddings); an id out of range is an error
  // naming it and the table size.
  Variable forward(const Tensor& ids);
  std::string type_name() const override { return "Embedding"; }

  int64_t num_embeddings() const { return weight.size(0); }
  int64_t dim() const { return weight.size(1); }
  Variable weight;  // [num_embeddings, dim]
};

}  // namespace neat
