// The tiny ViT the model tests share: image 8, patch 4 (a 2x2 grid, 5 tokens), 3 channels,
// dim 16, depth 2, heads 2, mlp 32, 3 classes, no dropout. A test changes the fields it is
// about:  ViTConfig c = tiny_vit_config(seed);  c.mlp_dim = 24;
#pragma once
#include "models/vit.h"
#include "tensor/json.h"

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

// The ViT a parity script describes in its reference file's "config" metadata (the keys are
// tests/parity/make_reference.py's).
inline ViTConfig vit_config_from_json(const Json& j) {
  ViTConfig c;
  c.image_size = j["image_size"].as_int();
  c.patch_size = j["patch_size"].as_int();
  c.channels = j["channels"].as_int();
  c.hidden = j["hidden"].as_int();
  c.depth = j["depth"].as_int();
  c.heads = j["heads"].as_int();
  c.mlp_dim = j["mlp_dim"].as_int();
  c.num_classes = j["num_classes"].as_int();
  c.layer_norm_eps = j["layer_norm_eps"].as_number();
  return c;
}

}  // namespace neat::test
