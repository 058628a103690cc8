// Shared by the peft tests: the tiny ViT they attach methods to, and a scale-free comparison.
#pragma once
#include <doctest/doctest.h>

#include "models/vit.h"
#include "tests/tensor_check.h"
#include "tests/tiny_vit.h"

namespace neat {

// tests/tiny_vit.h's ViT with MLP 24 (so the MLP's Linears are non-square) and 5 classes.
inline ViTConfig tiny_peft_vit_config() {
  ViTConfig c = test::tiny_vit_config(/*seed=*/3);
  c.mlp_dim = 24;
  c.num_classes = 5;
  return c;
}

// max |a - b| / max |b|: an error relative to the expected tensor's own magnitude (absolute
// when b is all zeros).
inline double relative_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const test::TensorComparison c = test::compare_tensor(a, b, /*rtol=*/0, /*floor=*/0);
  return c.scale > 0 ? c.max_error / c.scale : c.max_error;
}

}  // namespace neat
