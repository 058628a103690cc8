// The op table's cases of the fused layer ops (tests/op_cases_layers.cpp), kept apart from the
// elementwise, reduction and shape entries of tests/test_ops.cpp.
#pragma once
#include <vector>

#include "tests/op_table.h"

namespace neat::test {

std::vector<OpCase> attention_cases();
std::vector<OpCase> packed_attention_cases();   // heads side by side in [B, N, H*d], masks
std::vector<OpCase> causal_attention_cases();   // causal (Nq <= Nk), grouped-query, with padding
std::vector<OpCase> flash_attention_cases();    // tiles, padding, causal, GQA, a masked row
std::vector<OpCase> rope_cases();               // rotary embedding on packed heads
std::vector<OpCase> neat_cases();   // every activation, depths 2 / 4 / 6, bias or not
std::vector<OpCase> lora_cases();   // dropout 0 and 0.4, the mask from a fixed Generator
std::vector<OpCase> mse_loss_cases();    // [5,3] and [7] against a plain sum
std::vector<OpCase> embedding_cases();   // repeated ids, padding_idx none and unused
std::vector<OpCase> expand_cases();      // ViT's class token over the batch, a leading dim
std::vector<OpCase> add_layer_norm_cases();  // [sum | y] side by side, affine or not
std::vector<OpCase> dropout_cases();          // a fixed mask: Generator(99) per call

}  // namespace neat::test
