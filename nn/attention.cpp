#include "nn/attention.h"

#include <cmath>
#include <limits>

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/nn_functional.h"
#include "autograd/shape_ops.h"
#include "tensor/device_errors.h"
#include "tensor/elementwise.h"

namespace neat {

// [B, N, H*Dh] -> [B, H, N, Dh]
static Variable split_heads(const Variable& x, int64_t heads) {
  NEAT_CHECK(x.dim() == 3 && x.size(2) % heads == 0, "multi_head_attention: input ",
             shape_str(x.shape()), " is not [B, N, D] with D divisible by ", heads, " heads");
  return permute(reshape(x, {x.size(0), x.size(1), heads, x.size(2) / heads}), {0, 2, 1, 3});
}

Variable multi_head_attention(const Variable& q, const Variable& k, const Variable& v,
                              int64_t heads, double dropout_p, bool training, Generator* gen,
                              const Tensor& mask) {
  NEAT_CHECK(heads > 0, "multi_head_attention: heads must be positive, got ", heads);
  // Without dropout: one fused op that reads the heads where the projections wrote them.
  if (!training || dropout_p == 0) return packed_multi_head_attention(q, k, v, heads, mask);
  // HF drops attention probabilities, which the fused op does not expose: compose it.
  NEAT_CHECK(gen != nullptr, "multi_head_attention: dropout needs a generator");
  Variable qh = split_heads(q, heads), kh = split_heads(k, heads), vh = split_heads(v, heads);
  double scale = 1.0 / std::sqrt(double(qh.size(3)));
  Variable scores = mul_scalar(matmul(qh, kh, false, true), scale);
  if (mask.defined()) scores = add(scores, Variable(mask));
  Variable probs = softmax(scores, -1);
  Variable context = matmul(dropout(probs, dropout_p, true, *gen), vh);
  // [B, H, N, Dh] -> [B, N, H*Dh]
  Variable merged = permute(context, {0, 2, 1, 3});
  return reshape(merged, {merged.size(0), merged.size(1), merged.size(2) * merged.size(3)});
}

Tensor key_padding_mask(const Tensor& attention_mask, DType dtype) {
  NEAT_CHECK(attention_mask.dim() == 2, "key_padding_mask: attention_mask ",
             shape_str(attention_mask.shape()), " is not [B, N]");
  const int64_t B = attention_mask.size(0), N = attention_mask.size(1);
  // The dtype's largest finite value; its negative is the padding's score, the dtype's lowest,
  // as transformers' torch.finfo(dtype).min: float32's lowest rounds to -inf in bf16, and a row
  // of -inf scores (a padding query) gives NaN.
  const double max = dtype == DType::Float64    ? std::numeric_limits<double>::max()
                     : dtype == DType::BFloat16 ? std::ldexp(2.0 - std::ldexp(1.0, -7), 127)
                                                : double(std::numeric_limits<float>::max());
  // On the mask's device, with no host copy: (keep - 1) * max is 0 for a token and -max for
  // padding, exactly, in float64, then stored as dtype (exactly: max is a dtype value). The 0/1
  // check answers at once on the CPU, in the next check_device_errors() on CUDA in a training
  // loop (tensor/device_errors.h).
  const Tensor keep = attention_mask.to(DType::Float64);
  check_binary(keep, CheckedValue::binary("key_padding_mask", "attention_mask", {B, N}));
  return mul_scalar(add_scalar(keep, -1.0), max).to(dtype).reshape({B, 1, 1, N});
}

MultiHeadSelfAttention::MultiHeadSelfAttention(std::shared_ptr<Layer> query_layer,
                                               std::shared_ptr<Layer> key_layer,
                                               std::shared_ptr<Layer> value_layer, int64_t heads,
                                               double attention_dropout,
                                               std::shared_ptr<Generator> gen)
    : heads_(heads), attention_dropout_(attention_dropout), gen_(std::move(gen)) {
  NEAT_CHECK(heads > 0, "MultiHeadSelfAttention: heads must be positive, got ", heads);
  NEAT_CHECK(attention_dropout == 0 || gen_ != nullptr,
             "MultiHeadSelfAttention: attention dropout needs a generator");
  query = register_module("query", std::move(query_layer));
  key = register_module("key", std::move(key_layer));
  value = register_module("value", std::move(value_layer));
}

Variable MultiHeadSelfAttention::forward(const Variable& x) { return forward(x, Tensor()); }

Variable MultiHeadSelfAttention::forward(const Variable& x, const Tensor& mask) {
  return multi_head_attention(query->forward(x), key->forward(x), value->forward(x), heads_,
                              attention_dropout_, is_training(), gen_.get(), mask);
}

void MultiHeadSelfAttention::on_child_replaced(const std::string& name,
                                               const std::shared_ptr<Module>& child) {
  auto layer = as_layer(child, name);
  if (name == "query") query = layer;
  else if (name == "key") key = layer;
  else if (name == "value") value = layer;
}

}  // namespace neat
