// The op table's cases of the fused layer ops: scaled dot-product attention (plain, masked,
// per-head masks; on [.., N, d] heads and on packed heads), Neat's fused linear (every
// activation, depths 2, 4 and 6, with and without bias) and LoRA's (with and without
// dropout), and the text models' mse_loss and embedding, each against a forward composed from
// plain loops or primitives; and the residual add fused into the layer norm.
#include "tests/op_cases_layers.h"

#include <cmath>
#include <limits>

#include "autograd/nn_functional.h"
#include "autograd/shape_ops.h"
#include "nn/peft/lora.h"
#include "nn/peft/neat_function.h"
#include "nn/peft/neat_reference.h"
#include "tensor/dropout.h"
#include "tensor/elementwise.h"
#include "tensor/shape_ops.h"
#include "tensor/softmax.h"
#include "tests/op_references.h"
#include "tests/op_test_util.h"

namespace neat::test {

namespace {
using Vars = std::vector<Variable>;
using Tensors = std::vector<Tensor>;
const double kInf = std::numeric_limits<double>::infinity();
}  // namespace

std::vector<OpCase> attention_cases() {
  Op plain = [](const Vars& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); };
  Reference plain_ref = [](const Tensors& in) {
    return attention_composed(in[0], in[1], in[2], Tensor());
  };
  // A mask that blocks some keys (-inf) and biases the others, per query row.
  Tensor mask = random64({3, 5}, 40);
  mask.set({0, 4}, -kInf);
  mask.set({2, 0}, -kInf);
  mask.set({2, 1}, -kInf);
  Op masked = [mask](const Vars& in) {
    return scaled_dot_product_attention(in[0], in[1], in[2], beside(mask, in[0].data()));
  };
  Reference masked_ref = [mask](const Tensors& in) {
    return attention_composed(in[0], in[1], in[2], mask);
  };
  // Keys / values shared across heads (batch broadcast), one mask row per head.
  Tensor head_mask = random64({2, 1, 5}, 41);
  Op heads = [head_mask](const Vars& in) {
    return scaled_dot_product_attention(in[0], in[1], in[2], beside(head_mask, in[0].data()));
  };
  Reference heads_ref = [head_mask](const Tensors& in) {
    return attention_composed(in[0], in[1], in[2], head_mask);
  };
  return {{"q [2,3,4], k [2,5,4], v [2,5,6]",
           {random64({2, 3, 4}, 42), random64({2, 5, 4}, 43), random64({2, 5, 6}, 44)},
           plain,
           plain_ref},
          {"masked, q [2,3,4], k [2,5,4], v [2,5,6]",
           {random64({2, 3, 4}, 45), random64({2, 5, 4}, 46), random64({2, 5, 6}, 47)},
           masked,
           masked_ref},
          {"heads q [2,2,3,4], k, v [2,1,5,*], mask [2,1,5]",
           {random64({2, 2, 3, 4}, 48), random64({2, 1, 5, 4}, 49), random64({2, 1, 5, 3}, 50)},
           heads,
           heads_ref}};
}

// Packed heads against the per-head op's reference: split [B, N, H*d] into [B, H, N, d],
// attend, merge back.
std::vector<OpCase> packed_attention_cases() {
  auto reference = [](int64_t heads, Tensor mask) {
    return [heads, mask](const Tensors& in) {
      auto split = [heads](const Tensor& x) {
        return permute(x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}), {0, 2, 1, 3});
      };
      Tensor o = permute(attention_composed(split(in[0]), split(in[1]), split(in[2]), mask), {0, 2, 1, 3});
      return o.reshape({o.size(0), o.size(1), o.size(2) * o.size(3)});
    };
  };
  auto op = [](int64_t heads, Tensor mask) {
    return [heads, mask](const Vars& in) {
      return packed_multi_head_attention(in[0], in[1], in[2], heads, beside(mask, in[0].data()));
    };
  };
  // Padding keys (-inf) per batch entry, as key_padding_mask makes them: [B, 1, 1, Nk].
  Tensor padding = zeros({2, 1, 1, 5}, DType::Float64);
  padding.set({0, 0, 0, 4}, -kInf);
  padding.set({1, 0, 0, 0}, -kInf);
  padding.set({1, 0, 0, 3}, -kInf);
  // A mask per head and query row, shared by the batch: [H, Nq, Nk].
  Tensor per_head = random64({3, 3, 5}, 71);
  Tensor rows = random64({3, 5}, 72);   // [Nq, Nk]
  return {{"self-attention, 2 heads of 3: q, k, v [2,4,6]",
           {random64({2, 4, 6}, 73), random64({2, 4, 6}, 74), random64({2, 4, 6}, 75)},
           op(2, Tensor()), reference(2, Tensor())},
          {"1 head, q [1,3,4], k [1,5,4], v [1,5,2]",
           {random64({1, 3, 4}, 76), random64({1, 5, 4}, 77), random64({1, 5, 2}, 78)},
           op(1, Tensor()), reference(1, Tensor())},
          {"key padding [2,1,1,5], 3 heads: q [2,3,6], k [2,5,6], v [2,5,9] (dv 3 != d 2)",
           {random64({2, 3, 6}, 79), random64({2, 5, 6}, 80), random64({2, 5, 9}, 81)},
           op(3, padding), reference(3, padding)},
          {"mask per head [3,3,5], 3 heads: q [2,3,6], k [2,5,6], v [2,5,3]",
           {random64({2, 3, 6}, 82), random64({2, 5, 6}, 83), random64({2, 5, 3}, 84)},
           op(3, per_head), reference(3, per_head)},
          {"mask [3,5] on every head, 3 heads: q [2,3,6], k [2,5,6], v [2,5,3]",
           {random64({2, 3, 6}, 85), random64({2, 5, 6}, 86), random64({2, 5, 3}, 87)},
           op(3, rows), reference(3, rows)}};
}

namespace {

// Multi-head attention on packed heads (causal or not, grouped-query, masked) composed from the
// per-head op's reference: the heads split to [B, H, N, d], the key / value heads repeated for
// their G query heads, the causal mask made as a tensor (-inf where key j > i + Nk - Nq), merged
// back to [B, Nq, H*dv].
struct Setup {
  int64_t heads, kv_heads;
  bool causal;
  Tensor mask;
};

Tensor grouped_attention_composed(const Setup& s, const Tensors& in) {
  auto split = [](const Tensor& x, int64_t h) {
    return permute(x.reshape({x.size(0), x.size(1), h, x.size(2) / h}), {0, 2, 1, 3});
  };
  auto repeat_kv = [&](const Tensor& x) {   // [B, Hkv, N, w] -> [B, H, N, w]
    std::vector<Tensor> parts;
    for (int64_t h = 0; h < s.heads; ++h)
      parts.push_back(narrow(x, 1, h / (s.heads / s.kv_heads), 1));
    return concat(parts, 1);
  };
  const int64_t nq = in[0].size(1), nk = in[1].size(1);
  Tensor mask = s.mask.defined() ? s.mask : zeros({1}, DType::Float64);
  if (s.causal)
    mask = add(mask, tabulate({nq, nk}, [&](const Index& i) {
                 return i[1] > i[0] + nk - nq ? -kInf : 0.0;
               }));
  Tensor o = permute(attention_composed(split(in[0], s.heads), repeat_kv(split(in[1], s.kv_heads)),
                                        repeat_kv(split(in[2], s.kv_heads)), mask),
                     {0, 2, 1, 3});
  return o.reshape({o.size(0), o.size(1), o.size(2) * o.size(3)});
}

}  // namespace

// Causal and grouped-query attention on packed heads against the composed reference.
std::vector<OpCase> causal_attention_cases() {
  auto reference = [](Setup s) {
    return [s](const Tensors& in) { return grouped_attention_composed(s, in); };
  };
  auto op = [](Setup s) {
    return [s](const Vars& in) {
      return packed_multi_head_attention(in[0], in[1], in[2], s.heads, beside(s.mask, in[0].data()),
                                         s.causal, s.kv_heads);
    };
  };
  // Padding: entry 0's last key is padded as key_padding_mask does (lowest()); entry 1 is left
  // padded (a batched prompt) by a finite -20, so that its first queries, which see padded keys
  // only, keep scores whose derivative central differences can measure (lowest() + s rounds
  // to lowest(): flat to a difference, not to the analytic gradient).
  Tensor padding = zeros({2, 1, 1, 5}, DType::Float64);
  padding.set({0, 0, 0, 4}, std::numeric_limits<double>::lowest());
  padding.set({1, 0, 0, 0}, -20.0);
  padding.set({1, 0, 0, 1}, -20.0);
  const Setup causal{2, 2, true, Tensor()}, gqa{4, 2, false, Tensor()}, both{6, 2, true, Tensor()},
      padded{4, 2, true, padding}, mqa{3, 1, true, Tensor()};
  return {{"causal self-attention, 2 heads: q, k, v [2,5,6]",
           {random64({2, 5, 6}, 90), random64({2, 5, 6}, 91), random64({2, 5, 6}, 92)},
           op(causal), reference(causal)},
          {"causal, 2 new queries after 3 cached keys: q [2,2,6], k, v [2,5,6]",
           {random64({2, 2, 6}, 93), random64({2, 5, 6}, 94), random64({2, 5, 6}, 95)},
           op(causal), reference(causal)},
          {"grouped-query, 4 heads on 2: q [2,3,8], k [2,5,4], v [2,5,6]",
           {random64({2, 3, 8}, 96), random64({2, 5, 4}, 97), random64({2, 5, 6}, 98)},
           op(gqa), reference(gqa)},
          {"causal grouped-query, 6 heads on 2: q, k [1,4,12], [1,4,4], v [1,4,4]",
           {random64({1, 4, 12}, 99), random64({1, 4, 4}, 100), random64({1, 4, 4}, 101)},
           op(both), reference(both)},
          {"causal grouped-query with padding [2,1,1,5]: q [2,5,8], k, v [2,5,4]",
           {random64({2, 5, 8}, 102), random64({2, 5, 4}, 103), random64({2, 5, 4}, 104)},
           op(padded), reference(padded)},
          {"causal multi-query, 3 heads on 1, one decode step: q [2,1,6], k, v [2,4,2]",
           {random64({2, 1, 6}, 105), random64({2, 4, 2}, 106), random64({2, 4, 2}, 107)},
           op(mqa), reference(mqa)}};
}

// Flash attention (tensor/flash_attention.h) against the composed reference, in shapes that
// exercise its tiles (32 query rows x 32 keys): several tiles and a partial one, Nq != Nk, head
// sizes 5 and 3 (not a multiple of the CUDA kernels' float4 loads). A query row whose keys are
// all masked with -inf is defined as 0 (the composed softmax gives 0 / 0 = NaN there).
std::vector<OpCase> flash_attention_cases() {
  auto reference = [](Setup s) {
    return [s](const Tensors& in) {
      const Tensor o = grouped_attention_composed(s, in);
      return tabulate(o.shape(), [&](const Index& i) {
        const double x = o.at(i);
        return std::isnan(x) ? 0.0 : x;
      });
    };
  };
  auto op = [](Setup s) {
    return [s](const Vars& in) {
      return flash_multi_head_attention(in[0], in[1], in[2], s.heads, beside(s.mask, in[0].data()),
                                        s.causal, s.kv_heads);
    };
  };
  // Padding as key_padding_mask makes it ([B, 1, 1, Nk], lowest()), on keys that every query
  // also sees unpadded ones beside.
  Tensor padding = zeros({2, 1, 1, 40}, DType::Float64);
  for (int64_t j : {3, 17, 39}) padding.set({0, 0, 0, j}, std::numeric_limits<double>::lowest());
  for (int64_t j : {0, 33}) padding.set({1, 0, 0, j}, -kInf);
  // Query row 1 sees no key at all, row 4 one key only.
  Tensor blocked = zeros({6, 9}, DType::Float64);
  for (int64_t j = 0; j < 9; ++j) {
    blocked.set({1, j}, -kInf);
    if (j != 7) blocked.set({4, j}, -kInf);
  }
  const Setup plain{2, 2, false, Tensor()}, padded{2, 2, false, padding},
      causal{2, 2, true, Tensor()}, gqa{6, 2, true, Tensor()}, masked_row{3, 3, false, blocked},
      mqa{4, 1, false, Tensor()};
  return {{"2 heads of 3: q, k, v [2,4,6]",
           {random64({2, 4, 6}, 120), random64({2, 4, 6}, 121), random64({2, 4, 6}, 122)},
           op(plain), reference(plain)},
          {"key padding [2,1,1,40], 35 queries, 40 keys (two tiles each), d 5, dv 3",
           {random64({2, 35, 10}, 123), random64({2, 40, 10}, 124), random64({2, 40, 6}, 125)},
           op(padded), reference(padded)},
          {"causal, 34 queries after 3 cached keys (Nq 34, Nk 37), d 5",
           {random64({1, 34, 10}, 126), random64({1, 37, 10}, 127), random64({1, 37, 10}, 128)},
           op(causal), reference(causal)},
          {"causal grouped-query, 6 heads on 2, 33 tokens: q [1,33,18], k, v [1,33,6]",
           {random64({1, 33, 18}, 129), random64({1, 33, 6}, 130), random64({1, 33, 6}, 131)},
           op(gqa), reference(gqa)},
          {"a fully masked query row (0 out, 0 gradients) and a row of one key: mask [6,9]",
           {random64({2, 6, 6}, 132), random64({2, 9, 6}, 133), random64({2, 9, 6}, 134)},
           op(masked_row), reference(masked_row)},
          {"multi-query, 4 heads on 1, Nq 3 > Nk 2: q [2,3,8], k, v [2,2,2]",
           {random64({2, 3, 8}, 135), random64({2, 2, 2}, 136), random64({2, 2, 2}, 137)},
           op(mqa), reference(mqa)}};
}

// The rotary embedding against its definition, pair by pair: positions in any order (left
// padding gives repeated ones), hd 4 and 6.
std::vector<OpCase> rope_cases() {
  auto reference = [](Tensor pos, Tensor inv_freq, int64_t heads) {
    return [pos, inv_freq, heads](const Tensors& in) {
      const int64_t hd = in[0].size(2) / heads, half = hd / 2;
      return tabulate(in[0].shape(), [&](const Index& i) {
        const int64_t h = i[2] / hd, r = i[2] % hd, pair = r % half;
        const double a = double(pos.at({i[0], i[1]})) * inv_freq.flat(pair);
        const double x1 = in[0].at({i[0], i[1], h * hd + pair}),
                     x2 = in[0].at({i[0], i[1], h * hd + pair + half});
        return r < half ? x1 * std::cos(a) - x2 * std::sin(a) : x2 * std::cos(a) + x1 * std::sin(a);
      });
    };
  };
  auto op = [](Tensor pos, Tensor inv_freq, int64_t heads) {
    return [pos, inv_freq, heads](const Vars& in) {
      // The frequencies in x's math dtype: float32 for bf16 x (tensor/rope.h).
      const Tensor freq = inv_freq.to(math_dtype(in[0].dtype())).to(in[0].device());
      return rope(in[0], pos.to(in[0].device()), freq, heads);
    };
  };
  const Tensor pos = from_vector(std::vector<int64_t>{0, 1, 2, 0, 0, 1}, {2, 3});
  const Tensor pos_far = from_vector(std::vector<int64_t>{7, 100, 3, 2048}, {1, 4});
  const Tensor f2 = from_vector(std::vector<double>{1.0, 0.01});
  const Tensor f3 = from_vector(std::vector<double>{1.0, 0.1, 0.003});
  return {{"2 heads of 4, positions [[0,1,2],[0,0,1]]: x [2,3,8]", {random64({2, 3, 8}, 110)},
           op(pos, f2, 2), reference(pos, f2, 2)},
          {"1 head of 6, far positions: x [1,4,6]", {random64({1, 4, 6}, 111)},
           op(pos_far, f3, 1), reference(pos_far, f3, 1)}};
}

// Neat's fused op against its composition from primitives (nn/peft/neat_reference.h):
// x [2,3,IN], W0 [OUT,IN], b [OUT], A [R,OUT], B [OUT,R], depth-2 layers [R,R].
std::vector<OpCase> neat_cases() {
  std::vector<OpCase> cases;
  for (NeatActivation act : {NeatActivation::Relu, NeatActivation::Sin2Pi, NeatActivation::Gelu,
                             NeatActivation::Tanh, NeatActivation::Identity})
    for (int64_t depth : {2, 4}) {
      NeatSpec spec;
      spec.activation = act;
      spec.depth = depth;
      spec.scale = 0.7;
      const int64_t in = 5, out = 4, r = 3;
      Tensors inputs = {random64({2, 3, in}, 60), random64({out, in}, 61), random64({out}, 62), random64({r, out}, 63),
                        random64({out, r}, 64)};
      for (int64_t k = 0; k + 2 < depth; ++k) inputs.push_back(random64({r, r}, 65 + uint64_t(k)));
      Op op = [spec](const Vars& v) {
        return neat_linear(v[0], v[1], v[2], v[3], v[4], {v.begin() + 5, v.end()}, spec);
      };
      Reference ref = [spec](const Tensors& t) {
        Vars v(t.begin(), t.end());
        NoGradGuard no_grad;
        return neat_linear_reference(v[0], v[1], v[2], v[3], v[4], {v.begin() + 5, v.end()}, spec)
            .data();
      };
      cases.push_back({std::string(neat_activation_name(act)) + " depth " + std::to_string(depth),
                       inputs, op, ref});
    }
  // Depth 6 without a bias.
  NeatSpec deep;
  deep.activation = NeatActivation::Tanh;
  deep.depth = 6;
  Tensors inputs = {random64({2, 3, 4}, 70), random64({7, 4}, 71), random64({2, 7}, 72), random64({7, 2}, 73)};
  for (uint64_t k = 0; k < 4; ++k) inputs.push_back(random64({2, 2}, 74 + k));
  cases.push_back(
      {"tanh depth 6, no bias", inputs,
       [deep](const Vars& v) {
         return neat_linear(v[0], v[1], Variable(), v[2], v[3], {v.begin() + 4, v.end()}, deep);
       },
       [deep](const Tensors& t) {
         Vars v(t.begin(), t.end());
         NoGradGuard no_grad;
         return neat_linear_reference(v[0], v[1], Variable(), v[2], v[3], {v.begin() + 4, v.end()},
                                      deep)
             .data();
       }});
  return cases;
}

// LoRA: y = x W0^T + b + s (dropout(x) A^T) B^T, the mask drawn from a fresh Generator(17)
// on every call, so every evaluation of the gradient check sees the same one.
std::vector<OpCase> lora_cases() {
  std::vector<OpCase> cases;
  for (double p : {0.0, 0.4}) {
    Op op = [p](const Vars& v) {
      Generator masks(17);
      return lora_linear(v[0], v[1], v[2], v[3], v[4], 2.0 / 3.0, p, /*training=*/true, masks);
    };
    Reference ref = [p](const Tensors& t) {
      Generator masks(17);
      const Tensor kept =
          p > 0 ? mul(t[0], dropout_mask(t[0].shape(), p, masks, DType::Float64)) : t[0];
      return add(add(matmul_loop(t[0], t[1], false, true), t[2]),
                 mul_scalar(matmul_loop(matmul_loop(kept, t[3], false, true), t[4], false, true),
                            2.0 / 3.0));
    };
    cases.push_back({"dropout " + num(p),
                     {random64({2, 3, 5}, 80), random64({4, 5}, 81), random64({4}, 82), random64({3, 5}, 83), random64({4, 3}, 84)},
                     op,
                     ref});
  }
  return cases;
}

// mean((x - t)^2) against a plain sum; the target is data (not perturbed by the gradcheck).
std::vector<OpCase> mse_loss_cases() {
  Reference ref = [](const Tensors& in) {
    double total = 0;
    for (int64_t i = 0; i < in[0].numel(); ++i)
      total += (in[0].flat(i) - in[1].flat(i)) * (in[0].flat(i) - in[1].flat(i));
    return scalar_tensor(total / double(in[0].numel()), DType::Float64);
  };
  const Tensor matrix = random64({5, 3}, 86), vector = random64({7}, 89);
  return {{"[5,3]", {random64({5, 3}, 87)},
           [matrix](const Vars& v) { return mse_loss(v[0], beside(matrix, v[0].data())); },
           [ref, matrix](const Tensors& in) { return ref({in[0], matrix}); }},
          {"[7] (a regression's squeezed logits)", {random64({7}, 88)},
           [vector](const Vars& v) { return mse_loss(v[0], beside(vector, v[0].data())); },
           [ref, vector](const Tensors& in) { return ref({in[0], vector}); }}};
}

// Rows of the table at the ids; repeated ids sum their gradients. A padding_idx that is never
// looked up changes nothing; a used padding row's gradient is 0 by definition, not by
// differences (tests/test_bert.cpp checks it).
std::vector<OpCase> embedding_cases() {
  Reference ref = [](const Tensors& in) {
    const Tensor& w = in[0];
    const Tensor& ids = in[1];
    Shape out = ids.shape();
    out.push_back(w.size(1));
    return tabulate(out, [&](const Index& i) {
      return w.at({int64_t(ids.flat(i[0] * ids.size(1) + i[1])), i[2]});
    });
  };
  const Tensor ids = from_vector(std::vector<int64_t>{4, 0, 4, 2, 1, 4}, {2, 3});
  std::vector<OpCase> cases;
  for (int64_t padding : {-1, 3})
    cases.push_back({"ids [2,3] of [5,70], padding_idx " + std::to_string(padding),
                     {random64({5, 70}, 90), ids},
                     [padding](const Vars& v) { return embedding(v[0], v[1].data(), padding); },
                     ref});
  return cases;
}

std::vector<OpCase> expand_cases() {
  // y[i] = x at i with every expanded dim's index 0 (x's missing leading dims dropped).
  auto ref = [](const Shape& out) {
    return [out](const Tensors& in) {
      const Tensor& x = in[0];
      const size_t lead = out.size() - size_t(x.dim());
      return tabulate(out, [&](const Index& i) {
        Index s(i.begin() + lead, i.end());
        for (size_t d = 0; d < s.size(); ++d)
          if (x.size(int64_t(d)) == 1) s[d] = 0;
        return x.at(s);
      });
    };
  };
  return {{"class token [1,1,6] over a batch of 4", {random64({1, 1, 6}, 91)},
           [](const Vars& v) { return expand(v[0], {4, 1, 6}); }, ref({4, 1, 6})},
          {"[3,1] to [2,3,5]", {random64({3, 1}, 92)},
           [](const Vars& v) { return expand(v[0], {2, 3, 5}); }, ref({2, 3, 5})}};
}

// add_layer_norm's two outputs side by side, [.., 2D] = [sum | y], so that the gradient check
// and the device comparison cover both (and the gradient reaching x and residual through each):
// against the plain loops, h = x + residual, then layer_norm_loop(h).
std::vector<OpCase> add_layer_norm_cases() {
  auto op = [](bool weight, bool bias) {
    return [weight, bias](const Vars& v) {
      AddLayerNorm o = add_layer_norm(v[0], v[1], weight ? v[2] : Variable(),
                                      bias ? v[3] : Variable(), 1e-5);
      return concat({o.sum, o.y}, -1);
    };
  };
  auto ref = [](bool weight, bool bias) {
    return [weight, bias](const Tensors& in) {
      const Tensor h = add(in[0], in[1]);
      return concat({h, layer_norm_loop(h, weight ? in[2] : Tensor(), bias ? in[3] : Tensor(),
                                        1e-5)}, -1);
    };
  };
  auto inputs = [](Shape shape, uint64_t seed) {
    const int64_t D = shape.back();
    return Tensors{random64(shape, seed), random64(shape, seed + 1), random64({D}, seed + 2),
                   random64({D}, seed + 3)};
  };
  return {{"affine [3,7]", inputs({3, 7}, 91), op(true, true), ref(true, true)},
          {"no weight, no bias [2,3,5]", inputs({2, 3, 5}, 95), op(false, false),
           ref(false, false)},
          {"weight only [4,16] (bf16 rows of 16-byte runs on CUDA)", inputs({4, 16}, 99),
           op(true, false), ref(true, false)},
          {"70 rows (chunked weight / bias sums)", inputs({70, 3}, 103), op(true, true),
           ref(true, true)}};
}

// A fresh Generator(99) per call: the same mask on every evaluation.
std::vector<OpCase> dropout_cases() {
  return {{"p 0.3, [4,7]",
           {random64({4, 7}, 58)},
           [](const Vars& v) {
             Generator g(99);
             return dropout(v[0], 0.3, true, g);
           },
           [](const Tensors& in) {
             Generator g(99);
             return mul(in[0], dropout_mask(in[0].shape(), 0.3, g, DType::Float64));
           }}};
}

}  // namespace neat::test
