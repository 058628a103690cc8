// Flash attention's raw op (tensor/flash_attention.h) beyond the op table's entry: bfloat16
// inputs against float64, which path packed attention takes on the CPU, and the errors.
#include <doctest/doctest.h>

#include <cstdlib>
#include <limits>

#include "autograd/nn_functional.h"
#include "tensor/flash_attention.h"
#include "tests/op_test_util.h"
#include "tests/tensor_check.h"

namespace neat::test {

TEST_CASE("flash_attention: bfloat16 inputs, float32 math, against float64 on the same values") {
  // Causal grouped-query (4 heads on 2, d 8), 33 queries after 7 cached keys, two key tiles,
  // BERT-style padding; the float64 run reads the bf16-rounded values, so the difference is
  // the float32 math and the bf16 outputs only.
  auto bf16_values = [](const Tensor& x) { return x.to(DType::BFloat16).to(DType::Float64); };
  const Tensor q = bf16_values(random64({2, 33, 32}, 150)), k = bf16_values(random64({2, 40, 16}, 151)),
               v = bf16_values(random64({2, 40, 16}, 152)), dout = bf16_values(random64({2, 33, 32}, 153));
  Tensor mask = zeros({2, 1, 1, 40}, DType::Float64);
  mask.set({0, 0, 0, 5}, std::numeric_limits<double>::lowest());
  mask.set({1, 0, 0, 38}, -std::numeric_limits<double>::infinity());
  const FlashAttentionForward f64 = flash_attention_forward(q, k, v, 4, mask, true, 2);
  const PackedAttentionGradients g64 =
      flash_attention_backward(dout, q, k, v, f64.out, f64.lse, 4, mask, true, true, true, true, 2);

  auto bf = [](const Tensor& x) { return x.to(DType::BFloat16); };
  const FlashAttentionForward f = flash_attention_forward(bf(q), bf(k), bf(v), 4, bf(mask), true, 2);
  REQUIRE(f.out.dtype() == DType::BFloat16);
  REQUIRE(f.lse.dtype() == DType::Float32);
  const PackedAttentionGradients g = flash_attention_backward(
      bf(dout), bf(q), bf(k), bf(v), f.out, f.lse, 4, bf(mask), true, true, true, true, 2);
  auto f64_of = [](const Tensor& x) { return x.to(DType::Float64); };
  check_tensor("out", f64_of(f.out), f64.out, 8e-3, 1e-6);   // 2^-8: one bf16 rounding
  check_tensor("lse", f64_of(f.lse), f64.lse, 1e-5, 1e-6);
  check_tensor("dq", f64_of(g.q), g64.q, 2e-2, 1e-6);   // dS reads the bf16-rounded O
  check_tensor("dk", f64_of(g.k), g64.k, 2e-2, 1e-6);
  check_tensor("dv", f64_of(g.v), g64.v, 8e-3, 1e-6);
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
          flash_attention_backward(f.out, q, kv, kv, f.out, f.out, 2, Tensor(), false, true, true,
                                   true);
        }),
        {"flash_attention_backward", "log-sum-exp", "[2, 3, 4]", "[2, 2, 3]"}));
}

}  // namespace neat::test
