// Multi-head self-attention (Vaswani et al.), as Hugging Face's ViTSelfAttention and
// BertSelfAttention: the query, key and value projections and the attention between them.
//   x [B, N, D] -> q, k, v = x Wq^T + bq, ...   each [B, N, D]
//   split heads: [B, N, D] -> [B, H, N, Dh], Dh = D / H
//   context = softmax(q k^T / sqrt(Dh)) v      [B, H, N, Dh] -> merged back to [B, N, D]
// The output projection is the caller's (HF's SelfOutput "dense"), so the names stay HF's:
//
//   auto attn = std::make_shared<MultiHeadSelfAttention>(query, key, value, /*heads=*/4);
//   Variable context = attn->forward(x);                      // x [B, N, 64] -> [B, N, 64]
//   attn->replace_module("query", neat_layer);                // an adapter stands in for Wq
//
// The projections are held as Layers, so an adapter can replace any of them by name; the
// typed pointers follow (on_child_replaced).
#pragma once
#include <memory>

#include "nn/module.h"

namespace neat {

// The attention core shared by every attention module: q, k, v [B, N, D] (already projected)
// -> context [B, N, D] with H heads. With training and p > 0 the attention probabilities go
// through dropout (composed softmax path, as HF's attention_probs dropout); otherwise one
// fused packed_multi_head_attention, which reads the heads in place. mask (optional): additive, broadcastable to the scores
// [B, H, N, N], e.g. key_padding_mask(...) [B, 1, 1, N].
Variable multi_head_attention(const Variable& q, const Variable& k, const Variable& v,
                              int64_t heads, double dropout_p = 0.0, bool training = false,
                              Generator* gen = nullptr, const Tensor& mask = Tensor());

// attention_mask [B, N] (1 = a real token, 0 = padding; any dtype) -> the additive mask
// [B, 1, 1, N] in dtype: 0 for a real key, the dtype's lowest value for a padded one, as
// Hugging Face's extended attention mask, so no query attends to padding.
Tensor key_padding_mask(const Tensor& attention_mask, DType dtype);

class MultiHeadSelfAttention : public Layer {
 public:
  // query, key, value: [D] -> [D] layers (Linear(D, D), initialised by the caller). gen (shared
  // with the model's other Dropouts) may be null when attention_dropout == 0.
  MultiHeadSelfAttention(std::shared_ptr<Layer> query, std::shared_ptr<Layer> key,
                         std::shared_ptr<Layer> value, int64_t heads,
                         double attention_dropout = 0.0, std::shared_ptr<Generator> gen = nullptr);
  Variable forward(const Variable& x) override;   // [B, N, D] -> context [B, N, D]
  // mask: additive, broadcastable to the scores [B, H, N, N], e.g. key_padding_mask(...).
  Variable forward(const Variable& x, const Tensor& mask);
  std::string type_name() const override { return "MultiHeadSelfAttention"; }

  int64_t heads() const { return heads_; }
  // Children, in registration order: "query", "key", "value".
  std::shared_ptr<Layer> query, key, value;

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;

 private:
  int64_t heads_;
  double attention_dropout_;
  std::shared_ptr<Generator> gen_;
};

}  // namespace neat
