// Scaled dot-product attention as one fused node: forward and backward written with raw
// tensor ops (two batched GEMMs and a softmax each way). Derivation: docs/attention.md.
// Below it, the same on packed heads: one raw op each way (tensor/packed_attention.h).
//
//   q [.., Nq, d], k [.., Nk, d], v [.., Nk, dv], mask broadcastable to [.., Nq, Nk]
//   S = q k^T / sqrt(d) + mask  [.., Nq, Nk]      P = softmax(S) over Nk      O = P v  [.., Nq, dv]
// Batch dims broadcast like matmul's. Saves P, and q, k, v only where a gradient reads them;
// S is never needed again.
#include <cmath>

#include "autograd/nn_functional.h"
#include "tensor/elementwise.h"
#include "tensor/flash_attention.h"
#include "tensor/matmul.h"
#include "tensor/packed_attention.h"
#include "tensor/softmax.h"

namespace neat {

namespace {

// True when `from` broadcasts to `to` without growing it (right-aligned, each dim equal or 1).
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 0; i < from.size(); ++i) {
    const int64_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
    if (f != t && f != 1) return false;
  }
  return true;
}

}  // namespace

namespace {
struct AttentionNode : Node {
  double scale = 1;  // 1 / sqrt(d)
  Tensor q, k, v, p;
  const char* name() const override { return "scaled_dot_product_attention"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { q = k = v = p = Tensor(); }
};
}  // namespace

Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      const Tensor& mask) {
  const char* op = "scaled_dot_product_attention";
  NEAT_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, op, ": q ", shape_str(q.shape()),
             ", k ", shape_str(k.shape()), ", v ", shape_str(v.shape()),
             " need at least 2 dims [.., N, d]");
  NEAT_CHECK(q.size(-1) == k.size(-1), op, ": q ", shape_str(q.shape()), " and k ",
             shape_str(k.shape()), " differ in the head dim d");
  NEAT_CHECK(k.size(-2) == v.size(-2), op, ": k ", shape_str(k.shape()), " and v ",
             shape_str(v.shape()), " differ in the number of keys Nk");
  auto node = std::make_shared<AttentionNode>();
  node->scale = 1.0 / std::sqrt(double(q.size(-1)));

  Tensor s = matmul(q.data(), k.data(), false, true);  // q k^T  [.., Nq, Nk]
  scale_(s, node->scale);
  if (mask.defined()) {
    check_same_dtype(s, mask, op);
    NEAT_CHECK(broadcasts_to(mask.shape(), s.shape()), op, ": mask ",
               shape_str(mask.shape()), " does not broadcast to the scores ",
               shape_str(s.shape()));
    s = add(s, mask);
  }
  node->p = softmax(s, -1);
  Tensor o = matmul(node->p, v.data());  // [.., Nq, dv]
  if (k.requires_grad()) node->q = q.data();
  if (q.requires_grad()) node->k = k.data();
  if (q.requires_grad() || k.requires_grad()) node->v = v.data();
  return record(std::move(o), std::move(node), {q, k, v});
}

// forward: S = q k^T / sqrt(d) + mask, P = softmax(S), O = P v
//   dv = P^T dO      dP = dO v^T      dS = P * (dP - rowsum(dP * P))  (softmax backward)
//   dq = dS k / sqrt(d)      dk = dS^T q / sqrt(d)
std::vector<Tensor> AttentionNode::backward(const Tensor& grad) {
  Tensor grad_q, grad_k, grad_v;
  if (needs_grad(2)) grad_v = sum_to(matmul(p, grad, true, false), input_shape(2));
  if (needs_grad(0) || needs_grad(1)) {
    Tensor grad_s = softmax_backward(matmul(grad, v, false, true), p, -1);
    scale_(grad_s, scale);  // folds 1 / sqrt(d) in once for both dq and dk
    if (needs_grad(0)) grad_q = sum_to(matmul(grad_s, k), input_shape(0));
    if (needs_grad(1)) grad_k = sum_to(matmul(grad_s, q, true, false), input_shape(1));
  }
  return {grad_q, grad_k, grad_v};
}

namespace {
struct PackedAttentionNode : Node {
  int64_t heads = 1, kv_heads = 1;
  Tensor q, k, v, p;
  const char* name() const override { return "packed_multi_head_attention"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { q = k = v = p = Tensor(); }
};
}  // namespace

// Per head: S = Q K^T / sqrt(d) + mask (+ causal), P = softmax(S), O = P V
// (tensor/packed_attention.h). Where flash_attention_preferred says so (CUDA float32), the same
// as flash attention, which keeps L instead of P.
Variable packed_multi_head_attention(const Variable& q, const Variable& k, const Variable& v,
                                     int64_t heads, const Tensor& mask, bool causal,
                                     int64_t kv_heads) {
  if (flash_attention_preferred(q.data(), v.data(), heads, kv_heads))
    return flash_multi_head_attention(q, k, v, heads, mask, causal, kv_heads);
  PackedAttentionForward f =
      packed_attention_forward(q.data(), k.data(), v.data(), heads, mask, causal, kv_heads);
  auto node = std::make_shared<PackedAttentionNode>();
  node->heads = heads;
  node->kv_heads = kv_heads;
  node->p = std::move(f.probs);
  // dq and dk read all three (dS needs V). dv alone reads only P and dO, but the raw op takes
  // its sizes from q, k and v, so all three are kept.
  node->q = q.data();
  node->k = k.data();
  node->v = v.data();
  return record(std::move(f.out), std::move(node), {q, k, v});
}

//   dV = P^T dO      dP = dO V^T      dS = P * (dP - rowsum(dP * P))
//   dQ = dS K / sqrt(d)      dK = dS^T Q / sqrt(d)
// (a masked or causally hidden key has P = 0, so dS = 0 there: the mask needs no backward; a
// key / value head shared by G query heads sums their dK and dV)
std::vector<Tensor> PackedAttentionNode::backward(const Tensor& grad) {
  PackedAttentionGradients g = packed_attention_backward(
      grad, q, k, v, p, heads, needs_grad(0), needs_grad(1), needs_grad(2), kv_heads);
  return {g.q, g.k, g.v};
}

namespace {
struct FlashAttentionNode : Node {
  int64_t heads = 1, kv_heads = 1;
  bool causal = false;
  Tensor q, k, v, mask, out, stats;
  const char* name() const override { return "flash_multi_head_attention"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { q = k = v = mask = out = stats = Tensor(); }
};
}  // namespace

// The same per head as packed_multi_head_attention, in tiles (tensor/flash_attention.h): saves
// the output O and each row's max m and 1 / l, [B, H, Nq, 2], instead of P [B, H, Nq, Nk].
Variable flash_multi_head_attention(const Variable& q, const Variable& k, const Variable& v,
                                    int64_t heads, const Tensor& mask, bool causal,
                                    int64_t kv_heads) {
  FlashAttentionForward f =
      flash_attention_forward(q.data(), k.data(), v.data(), heads, mask, causal, kv_heads);
  auto node = std::make_shared<FlashAttentionNode>();
  node->heads = heads;
  node->kv_heads = kv_heads;
  node->causal = causal;
  // The backward recomputes P from q, k, the mask and the stats; dS needs v, D = rowsum(dO * O).
  node->q = q.data();
  node->k = k.data();
  node->v = v.data();
  node->mask = mask;
  node->out = f.out;
  node->stats = std::move(f.stats);
  return record(std::move(f.out), std::move(node), {q, k, v});
}

//   P = e^(S - m) / l      D = rowsum(dO * O)      dV = P^T dO      dP = dO V^T
//   dS = P * (dP - D)
//   dQ = dS K / sqrt(d)      dK = dS^T Q / sqrt(d)
// (D = rowsum(dP * P), the softmax backward's sum; masked keys have P = 0 and so dS = 0; a key /
// value head shared by G query heads sums their dK and dV)
std::vector<Tensor> FlashAttentionNode::backward(const Tensor& grad) {
  PackedAttentionGradients g =
      flash_attention_backward(grad, q, k, v, out, stats, heads, mask, causal, needs_grad(0),
                               needs_grad(1), needs_grad(2), kv_heads);
  return {g.q, g.k, g.v};
}

}  // namespace neat
