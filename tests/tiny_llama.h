// A tiny LLaMA configuration with odd sizes for the model and loader tests: 3 query heads on 1
// key / value head, head_dim 4 != hidden / heads, every bias on, a large initializer range so
// attention is far from uniform.
#pragma once
#include "models/llama.h"

namespace neat::test {

inline LlamaConfig tiny_llama_config(bool tied = false) {
  LlamaConfig c;
  c.vocab_size = 11;
  c.hidden = 6;
  c.intermediate = 10;
  c.layers = 2;
  c.heads = 3;
  c.kv_heads = 1;
  c.head_dim = 4;
  c.rope_theta = 500;
  c.tie_word_embeddings = tied;
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  c.initializer_range = 0.5;
  c.seed = 3;
  return c;
}

}  // namespace neat::test
