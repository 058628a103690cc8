// The model the adapter and checkpoint harnesses load files into: a ViT of width 8 with one
// layer, so each input is processed in microseconds.
#pragma once
#include <memory>

#include "models/vit.h"
#include "nn/peft/attach.h"

namespace neat_fuzz {

inline neat::ViTConfig tiny_vit_config() {
  neat::ViTConfig c;
  c.image_size = 8;
  c.patch_size = 4;
  c.channels = 3;
  c.hidden = 8;
  c.depth = 1;
  c.heads = 2;
  c.mlp_dim = 16;
  c.num_classes = 3;
  return c;
}

// Neat (rank 2) or LoRA (rank 2) on query and value, as train_vit builds it from flags.
inline neat::PeftConfig tiny_peft_config(bool lora) {
  neat::PeftConfig p;
  p.method = lora ? "lora" : "neat";
  p.neat.rank = 2;
  p.lora.rank = 2;
  p.lora.alpha = 2;
  return p;
}

}  // namespace neat_fuzz
