// autograd/checkpoint.h: recomputed blocks give the gradients of the recorded ones (a small
// function with a parameter and dropout, and every trainable tensor of a tiny LLaMA with LoRA,
// dropout on, and LlamaModel::set_recompute), and a recomputed block keeps only its input.
#include <doctest/doctest.h>

#include "autograd/checkpoint.h"
#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/nn_functional.h"
#include "autograd/reduce.h"
#include "models/llama.h"
#include "nn/peft/attach.h"
#include "tensor/elementwise.h"
#include "tests/tensor_check.h"
#include "tests/tiny_llama.h"

using namespace neat;
using neat::test::check_tensor;

namespace {

// Every trainable tensor's gradient after loss.backward(), by name.
std::map<std::string, Tensor> gradients(const Module& model) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, p] : model.named_parameters(/*trainable_only=*/true)) out[name] = p.grad();
  return out;
}

}  // namespace

TEST_CASE("checkpoint: a recomputed block gives the recorded block's gradients, dropout included") {
  Generator init(5);
  const Variable w(randn({4, 3}, init), /*requires_grad=*/true);
  const Variable x(randn({2, 5, 4}, init), /*requires_grad=*/true);
  Generator masks(9);
  auto block = [w, &masks](const Variable& in) {
    return tanh(dropout(matmul(in, w), 0.3, /*training=*/true, masks));
  };
  masks.set_state(17);
  sum(mul(block(x), block(x))).backward();
  const Tensor want_w = w.grad(), want_x = x.grad();
  Variable(w).zero_grad();
  Variable(x).zero_grad();
  masks.set_state(17);
  const Variable y1 = checkpoint(block, x, {w}, &masks);
  const Variable y2 = checkpoint(block, x, {w}, &masks);
  CHECK(masks.state() != 17);
  sum(mul(y1, y2)).backward();
  check_tensor("dL/dw", w.grad(), want_w, 1e-6, 0);
  check_tensor("dL/dx", x.grad(), want_x, 1e-6, 0);
  // Without a gradient to record, the block simply runs.
  NoGradGuard no_grad;
  CHECK(checkpoint(block, x, {w}, &masks).is_leaf());
}

TEST_CASE("checkpoint: a block reached only through its parameters is still recorded") {
  Generator init(6);
  const Variable w(randn({3, 3}, init), /*requires_grad=*/true);
  const Variable x(randn({4, 3}, init));   // an input that needs no gradient
  auto block = [w](const Variable& in) { return matmul(in, w); };
  sum(tanh(block(x))).backward();
  const Tensor want = w.grad();
  Variable(w).zero_grad();
  const Variable y = checkpoint(block, x, {w});
  REQUIRE(y.requires_grad());
  sum(tanh(y)).backward();
  check_tensor("dL/dw", w.grad(), want, 1e-6, 0);
}

TEST_CASE("llama set_recompute: every trainable gradient equals the recorded model's (LoRA, dropout)") {
  for (const char* method : {"lora", "full"}) {
    CAPTURE(method);
    LlamaForCausalLM model(test::tiny_llama_config(/*tied=*/true));
    PeftConfig peft;
    peft.method = method;
    peft.targets = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj";
    peft.classifier = "";
    peft.lora.dropout = 0.25;
    auto dropout = std::make_shared<Generator>(11);
    peft.lora.dropout_generator = dropout;
    attach_peft(model, peft);
    Generator gen(4);
    {
      NoGradGuard no_grad;   // LoRA's B starts at zero: give every adapter a gradient
      for (auto& [name, p] : model.named_parameters(true)) p.data().copy_from(randn(p.shape(), gen));
    }
    const Tensor ids = from_vector(std::vector<int64_t>{1, 4, 2, 9, 3, 0, 5, 7, 6, 2, 1, 1}, {2, 6});
    const Tensor mask = from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 6});
    const Tensor labels = from_vector(std::vector<int64_t>{-100, -100, 2, 9, 3, 0, -100, 7, 6, 2, -100, -100}, {2, 6});
    auto loss = [&] {
      dropout->set_state(23);
      return causal_lm_loss(model.forward(ids, mask), labels);
    };
    const Variable plain = loss();
    plain.backward();
    const std::map<std::string, Tensor> want = gradients(model);
    for (auto& [name, p] : model.named_parameters(true)) p.zero_grad();
    model.model->set_recompute(true, dropout.get());
    const Variable recomputed = loss();
    CHECK(recomputed.item() == plain.item());
    recomputed.backward();
    const std::map<std::string, Tensor> got = gradients(model);
    REQUIRE(got.size() == want.size());
    for (const auto& [name, g] : want) {
      REQUIRE_MESSAGE(got.at(name).defined(), name);
      check_tensor(name, got.at(name), g, 1e-6, 0);
    }
  }
}
