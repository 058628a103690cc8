// The tiny ViT the model tests share: image 8, patch 4 (a 2x2 grid, 5 tokens), 3 channels,
// dim 16, depth 2, heads 2, mlp 32, 3 classes, no dropout. A test changes the fields it is
// about:  ViTConfig c = tiny_vit_config(seed);  c.mlp_dim = 24;
#pragma once
#include "models/vit.h"

namespace neat::test {

inline ViTConfig tiny_vit_config(uint64_t seed = 0) {
  ViTConfig c;
  c.image_size = 8;
  c.patch_size = 4;
  c.channels = 3;
  c.hidden = 16;
  c.depth = 2;
  c.heads = 2;
  c.mlp_dim = 32;
  c.num_classes = 3;
  c.seed = seed;
  return c;
}

}  // namespace neat::test
