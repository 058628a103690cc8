// Flash attention's raw op (tensor/flash_attention.h) beyond the op table's entry: bfloat16
// inputs against float64, rows masked by lowest(), which path packed attention takes on the CPU, the errors, and (on a
// GPU) the CUDA kernels at the models' sizes: the same bits on every run, and the CPU's results.
#include <doctest/doctest.h>

#include <cstdlib>
#include <limits>

#include "autograd/nn_functional.h"
#include "tensor/flash_attention.h"
#include "tensor/gpu.h"
#include "tests/op_table.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "tests/tensor_check.h"

namespace neat::test {

TEST_CASE("flash_attention: bfloat16 inputs, float32 math, against float64 on the same values") {
  // Causal grouped-query (4 heads on 2, d 8), 33 queries after 7 cached keys, two key tiles,
  // BERT-style padding; the float64 run reads the bf16-rounded values, so the difference is
  // the float32 math and the bf16 outputs only.
  auto bf16_values = [](const Tensor& x) { return x.to(DType::BFloat16).to(DType::Float64); };
  const Tensor q = bf16_values(random64({2, 33, 32}, 150)),
               k = bf16_values(random64({2, 40, 16}, 151)),
               v = bf16_values(random64({2, 40, 16}, 152)),
               dout = bf16_values(random64({2, 33, 32}, 153));
  Tensor mask = zeros({2, 1, 1, 40}, DType::Float64);
  mask.set({0, 0, 0, 5}, std::numeric_limits<double>::lowest());
  mask.set({1, 0, 0, 38}, -std::numeric_limits<double>::infinity());
  const FlashAttentionForward f64 = flash_attention_forward(q, k, v, 4, mask, true, 2);
  const PackedAttentionGradients g64 =
      flash_attention_backward(dout, q, k, v, f64.out, f64.stats, 4, mask, true, true, true, true, 2);

  auto bf = [](const Tensor& x) { return x.to(DType::BFloat16); };
  const FlashAttentionForward f =
      flash_attention_forward(bf(q), bf(k), bf(v), 4, bf(mask), true, 2);
  REQUIRE(f.out.dtype() == DType::BFloat16);
  REQUIRE(f.stats.dtype() == DType::Float32);
  const PackedAttentionGradients g = flash_attention_backward(
      bf(dout), bf(q), bf(k), bf(v), f.out, f.stats, 4, bf(mask), true, true, true, true, 2);
  auto f64_of = [](const Tensor& x) { return x.to(DType::Float64); };
  check_tensor("out", f64_of(f.out), f64.out, 8e-3, 1e-6);  // 2^-8: one bf16 rounding
  check_tensor("stats", f64_of(f.stats), f64.stats, 1e-5, 1e-6);
  check_tensor("dq", f64_of(g.q), g64.q, 2e-2, 1e-6);  // dS reads the bf16-rounded O
  check_tensor("dk", f64_of(g.k), g64.k, 2e-2, 1e-6);
  check_tensor("dv", f64_of(g.v), g64.v, 8e-3, 1e-6);
}

TEST_CASE("flash_attention: a row masked entirely by lowest() has packed attention's gradients") {
  // key_padding_mask's lowest() absorbs the scores (lowest + s == lowest): the row's softmax is
  // uniform, 1 / Nk. A saved L = m + log l would round to m, and e^(S - L) give 1 instead.
  const Tensor q = random64({1, 3, 4}, 163), k = random64({1, 6, 4}, 164),
               v = random64({1, 6, 4}, 165), dout = random64({1, 3, 4}, 166);
  Tensor mask = zeros({3, 6}, DType::Float64);
  for (int64_t j = 0; j < 6; ++j) mask.set({1, j}, std::numeric_limits<double>::lowest());
  const FlashAttentionForward f = flash_attention_forward(q, k, v, 2, mask);
  const PackedAttentionGradients g =
      flash_attention_backward(dout, q, k, v, f.out, f.stats, 2, mask, false, true, true, true);
  const PackedAttentionForward p = packed_attention_forward(q, k, v, 2, mask);
  const PackedAttentionGradients gp =
      packed_attention_backward(dout, q, k, v, p.probs, 2, true, true, true);
  check_tensor("out", f.out, p.out, 1e-12, 1e-12);
  check_tensor("dq", g.q, gp.q, 1e-12, 1e-12);
  check_tensor("dk", g.k, gp.k, 1e-12, 1e-12);
  check_tensor("dv", g.v, gp.v, 1e-12, 1e-12);
}

TEST_CASE("flash_attention: the CPU keeps packed attention's stored-P path") {
  const Tensor q = random64({1, 3, 4}, 160).to(DType::Float32);
  CHECK_FALSE(flash_attention_preferred(q, q, 2));
  const Variable x(q, true);
  CHECK(std::string(packed_multi_head_attention(x, x, x, 2).grad_fn()->name()) ==
        "packed_multi_head_attention");
  CHECK(std::string(flash_multi_head_attention(x, x, x, 2).grad_fn()->name()) ==
        "flash_multi_head_attention");
}

TEST_CASE("flash_attention: errors name the op and the shapes") {
  const Tensor q = random64({2, 3, 4}, 161), kv = random64({2, 5, 4}, 162);
  CHECK(mentions(thrown_message([&] { flash_attention_forward(q, kv, kv, 3, Tensor()); }),
                 {"flash_attention", "[2, 3, 4]", "3"}));
  CHECK(mentions(thrown_message([&] { flash_attention_forward(kv, q, q, 2, Tensor(), true); }),
                 {"flash_attention", "causal", "5 queries", "3 keys"}));
  const FlashAttentionForward f = flash_attention_forward(q, kv, kv, 2, Tensor());
  CHECK(mentions(thrown_message([&] {
                   flash_attention_backward(f.out, q, kv, kv, f.out, f.out, 2, Tensor(), false,
                                            true, true, true);
                 }),
                 {"flash_attention_backward", "row statistics", "[2, 3, 4]", "[2, 2, 3, 2]"}));
}

namespace {

// One flash attention problem: q [B, Nq, H*d], k [B, Nk, Hkv*d], v [B, Nk, Hkv*dv], a mask.
struct FlashProblem {
  const char* label;
  int64_t batch, nq, nk, heads, kv_heads, d, dv;
  bool causal;
  Tensor mask;  // float64, or undefined
};

// Its forward and all three gradients on `device` in `dtype`, inputs from fixed seeds.
std::vector<Tensor> flash_run(const FlashProblem& p, Device device, DType dtype) {
  auto input = [&](Shape shape, uint64_t seed) {
    return random64(shape, seed).to(dtype).to(device);
  };
  const Tensor q = input({p.batch, p.nq, p.heads * p.d}, 170),
               k = input({p.batch, p.nk, p.kv_heads * p.d}, 171),
               v = input({p.batch, p.nk, p.kv_heads * p.dv}, 172),
               dout = input({p.batch, p.nq, p.heads * p.dv}, 173);
  const Tensor mask = p.mask.defined() ? p.mask.to(dtype).to(device) : Tensor();
  const FlashAttentionForward f =
      flash_attention_forward(q, k, v, p.heads, mask, p.causal, p.kv_heads);
  const PackedAttentionGradients g = flash_attention_backward(
      dout, q, k, v, f.out, f.stats, p.heads, mask, p.causal, true, true, true, p.kv_heads);
  return {f.out, f.stats, g.q, g.k, g.v};
}

}  // namespace

TEST_CASE("cuda: flash attention at the models' sizes: the same bits twice, the CPU's results") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  Tensor padding = zeros({2, 1, 1, 77}, DType::Float64);  // BERT's key_padding_mask
  for (int64_t j = 60; j < 77; ++j)
    padding.set({1, 0, 0, j}, double(std::numeric_limits<float>::lowest()));
  const std::vector<FlashProblem> problems = {
      {"ViT-B/16 shape: 197 tokens, 12 heads of 64", 2, 197, 197, 12, 12, 64, 64, false, Tensor()},
      {"BERT padding [2,1,1,77], 4 heads of 64", 2, 77, 77, 4, 4, 64, 64, false, padding},
      {"LLaMA causal, 9 heads on 3, d 64, 70 tokens", 1, 70, 70, 9, 3, 64, 64, true, Tensor()},
      {"decode: 1 query after 100 keys, causal, 4 heads on 2", 3, 1, 101, 4, 2, 64, 64, true,
       Tensor()},
      {"d 128, dv 96, 45 queries, 50 keys", 2, 45, 50, 2, 2, 128, 96, false, Tensor()},
      {"d 40 (padded to 64), dv 24, 33 tokens", 1, 33, 33, 3, 3, 40, 24, false, Tensor()},
      {"d 32, 31 tokens", 2, 31, 31, 2, 1, 32, 32, true, Tensor()}};
  const char* names[] = {"out", "stats", "dq", "dk", "dv"};
  for (const FlashProblem& p : problems) {
    CAPTURE(p.label);
    const std::vector<Tensor> gpu = flash_run(p, Device::CUDA, DType::Float32),
                              again = flash_run(p, Device::CUDA, DType::Float32),
                              cpu = flash_run(p, Device::CPU, DType::Float32);
    for (size_t t = 0; t < gpu.size(); ++t) {
      CAPTURE(names[t]);
      CHECK(gpu[t].to(Device::CPU).to_vector<float>() ==
            again[t].to(Device::CPU).to_vector<float>());
      CHECK(cuda_nmse(gpu[t], cpu[t]) < kMaxDeviceNmse);
    }
    const std::vector<Tensor> bf = flash_run(p, Device::CUDA, DType::BFloat16),
                              bf_cpu = flash_run(p, Device::CPU, DType::BFloat16);
    for (size_t t = 0; t < bf.size(); ++t) {  // the same bf16 inputs, float32 math on both
      CAPTURE(names[t]);
      CHECK(normalized_mse(bf[t].to(Device::CPU).to(DType::Float64), bf_cpu[t].to(DType::Float64)) <
            1e-4);
    }
  }
}

}  // namespace neat::test
