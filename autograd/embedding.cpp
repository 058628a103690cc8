// Differentiable embedding lookup with padding_idx, as torch.nn.functional.embedding: the
// forward gathers rows (index_select), the backward adds dy's rows into their ids' rows except
// the padding row, which gets exactly zero (tensor/embedding.h).
#include "autograd/nn_functional.h"
#include "tensor/embedding.h"
#include "tensor/shape_ops.h"

namespace neat {

namespace {
struct EmbeddingNode : Node {
  Tensor ids;  // int64 [count], data rather than an input
  int64_t padding_idx = -1;
  const char* name() const override { return "embedding"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
  void release_saved() override { ids = Tensor(); }
};
}  // namespace

Variable embedding(const Variable& weight, const Tensor& ids, int64_t padding_idx) {
  NEAT_CHECK(weight.dim() == 2, "embedding: weight ", shape_str(weight.shape()),
             " is not [num_embeddings, D]");
  NEAT_CHECK(padding_idx >= -1 && padding_idx < weight.size(0), "embedding: padding_idx ",
             padding_idx, " is neither -1 (none) nor a row of the table of ", weight.size(0));
  const Tensor flat = ids.reshape({ids.numel()});
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  auto node = std::make_shared<EmbeddingNode>();
  node->ids = flat;
  node->padding_idx = padding_idx;
  return record(index_select(weight.data(), 0, flat).reshape(out_shape), std::move(node),
                {weight});
}

// forward: y[.., :] = W[ids[..], :]      W [V, D], ids [..], y [.., D]
//   dW[v] = sum over positions with ids = v of dy[position], and dW[padding_idx] = 0
std::vector<Tensor> EmbeddingNode::backward(const Tensor& dy) {
  const int64_t dim = input_shape(0)[1];
  return {embedding_backward(dy.reshape({ids.numel(), dim}), ids, input_shape(0)[0], padding_idx)};
}

}  // namespace neat
