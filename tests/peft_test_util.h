// Shared by the peft tests: the tiny ViT they attach methods to, and a scale-free comparison.
#pragma once
#include <algorithm>
#include <cmath>

#include <doctest/doctest.h>

#include "models/vit.h"

namespace neat {

// D 16, MLP 24 (so the MLP's Linears are non-square), 2 layers, 2 heads, 5 classes, 8x8 images
// of 4x4 patches.
inline ViTConfig tiny_peft_vit_config() {
  ViTConfig c;
  c.image_size = 8;
  c.patch_size = 4;
  c.channels = 3;
  c.hidden = 16;
  c.depth = 2;
  c.heads = 2;
  c.mlp_dim = 24;
  c.num_classes = 5;
  c.seed = 3;
  return c;
}

// max |a - b| / max |b|: an error relative to the expected tensor's own magnitude (absolute
// when b is all zeros).
inline double relative_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    worst = std::max(worst, std::abs(a.flat(i) - b.flat(i)));
    scale = std::max(scale, std::abs(b.flat(i)));
  }
  return scale > 0 ? worst / scale : worst;
}

}  // namespace neat
