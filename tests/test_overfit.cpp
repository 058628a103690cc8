// End to end: a tiny ViT with each method (neat, lora, head, full) memorises 32 fixed random
// images with random labels, i.e. reaches 100% training accuracy within a few hundred AdamW
// steps. Fails if gradients do not reach the trainable tensors, or reach them wrong.
#include <doctest/doctest.h>

#include "autograd/nn_functional.h"
#include "models/vit.h"
#include "nn/peft/attach.h"
#include "tensor/reduce.h"
#include "train/optimizer.h"
#include "tests/tiny_vit.h"

using namespace neat;

namespace {

struct OverfitResult {
  int steps = 0;          // steps taken until 100% (or the limit)
  double accuracy = 0;    // training accuracy at the end
  double first_loss = 0, last_loss = 0;
};

OverfitResult overfit(const PeftConfig& peft, double lr, int max_steps) {
  ViTConfig c = neat::test::tiny_vit_config(/*seed=*/1);
  c.hidden = 32;
  c.mlp_dim = 64;
  c.num_classes = 4;
  ViTForImageClassification vit(c);
  attach_peft(vit, peft);
  vit.eval();   // no dropout in this config anyway; eval keeps the check deterministic
  Generator gen(99);
  Tensor pixels = randn({32, 3, 8, 8}, gen);
  std::vector<int64_t> label_values;
  for (int i = 0; i < 32; ++i) label_values.push_back(int64_t(gen.below(4)));
  Tensor labels = from_vector(label_values);

  AdamW opt({{"trainable", vit.named_parameters(/*trainable_only=*/true), lr, 0.0}});
  OverfitResult r;
  for (r.steps = 0; r.steps < max_steps; ++r.steps) {
    Variable logits = vit.forward(Variable(pixels));
    Tensor predicted = argmax(logits.data(), -1);
    int correct = 0;
    for (int i = 0; i < 32; ++i) correct += predicted.flat(i) == label_values[size_t(i)];
    r.accuracy = correct / 32.0;
    Variable loss = cross_entropy(logits, labels);
    if (r.steps == 0) r.first_loss = loss.item();
    r.last_loss = loss.item();
    if (correct == 32) break;
    loss.backward();
    opt.step();
    opt.zero_grad();
  }
  return r;
}

void check_overfits(const PeftConfig& peft, double lr) {
  OverfitResult r = overfit(peft, lr, 300);
  MESSAGE(peft.method, ": ", r.steps, " steps, accuracy ", r.accuracy, ", loss ", r.first_loss,
          " -> ", r.last_loss);
  CHECK(r.accuracy == 1.0);
  CHECK(r.last_loss < r.first_loss);
}

}  // namespace

TEST_CASE("overfit 32 images: neat") {
  PeftConfig peft;
  peft.targets = "qvmlp";
  peft.neat.rank = 4;
  check_overfits(peft, 1e-2);
}

TEST_CASE("overfit 32 images: neat depth 4, sin2pi") {
  PeftConfig peft;
  peft.targets = "qvmlp";
  peft.neat.rank = 4;
  peft.neat.depth = 4;
  peft.neat.activation = NeatActivation::Sin2Pi;
  check_overfits(peft, 1e-2);
}

TEST_CASE("overfit 32 images: lora") {
  PeftConfig peft;
  peft.method = "lora";
  peft.targets = "qvmlp";
  peft.lora.rank = 4;
  check_overfits(peft, 1e-2);
}

TEST_CASE("overfit 32 images: head") {
  PeftConfig peft;
  peft.method = "head";
  check_overfits(peft, 2e-1);
}

TEST_CASE("overfit 32 images: full") {
  PeftConfig peft;
  peft.method = "full";
  check_overfits(peft, 3e-3);
}
