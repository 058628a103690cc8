// Embedding: a lookup table, as torch.nn.Embedding(num_embeddings, dim, padding_idx): row i of
// the weight is the vector of id i. Weight N(0, 1) like torch's default, the padding row zero
// (models re-initialise it).
//   ids int64 [..] -> [.., dim]
//
//   Embedding words(30522, 384, /*seed=*/0, /*padding_idx=*/0);
//   Variable h = words.forward(input_ids);   // input_ids [B, N] -> [B, N, 384]
//
// The gradient of the weight: dy rows added into the rows of the ids they came from (an id used
// twice gets both), except the padding row, whose gradient is exactly 0 (torch's padding_idx:
// the padding vector is looked up but never trained).
#pragma once
#include <optional>

#include "nn/module.h"

namespace neat {

class Embedding : public Module {
 public:
  // padding_idx: a row in [0, num_embeddings) or none (an error names a row outside).
  Embedding(int64_t num_embeddings, int64_t dim, uint64_t seed = 0,
            std::optional<int64_t> padding_idx = std::nullopt);
  // ids: int64 of any shape, each in [0, num_embeddings); an id out of range is an error
  // naming it and the table size.
  Variable forward(const Tensor& ids);
  std::string type_name() const override { return "Embedding"; }

  int64_t num_embeddings() const { return weight.size(0); }
  int64_t dim() const { return weight.size(1); }
  std::optional<int64_t> padding_idx() const { return padding_idx_; }
  // Sets the padding row to zeros (torch's reset of a padding_idx table; models call it after
  // re-initialising the weight), on a CPU table. Nothing without a padding row.
  void zero_padding_row();
  Variable weight;  // [num_embeddings, dim]

 private:
  std::optional<int64_t> padding_idx_;
};

}  // namespace neat
