// Rotary position embedding (Su et al., RoFormer) as Hugging Face's LLaMA applies it
// (apply_rotary_pos_emb with rotate_half), on heads packed side by side as the q and k
// projections write them (tensor/packed_attention_layout.h):
//   x [B, N, H*hd], position_ids int64 [B, N], inv_freq [hd/2] (x's dtype; float32 for a
//   bfloat16 x, whose rotation is computed in float32), on x's device.
// For token (b, n) at position p = position_ids[b, n], each head's first and second halves
// (x1 = x[i], x2 = x[i + hd/2], i < hd/2) turn by the angle a_i = p inv_freq[i]:
//   y[i] = x1 cos a_i - x2 sin a_i      y[i + hd/2] = x2 cos a_i + x1 sin a_i
// The angle and its cos / sin are computed in double. GGUF / GGML's LLaMA rotates adjacent pairs
// (2i, 2i+1) instead; docs/llama.md shows how the two layouts map onto each other.
// inverse = true turns by -a_i: the backward, since a rotation's transpose is its inverse.
//
//   Tensor q_rot = rope(q, position_ids, inv_freq, /*heads=*/4);        // q [2, 5, 32], hd 8
//   Tensor dq = rope(dq_rot, position_ids, inv_freq, 4, /*inverse=*/true);
#pragma once
#include "tensor/tensor.h"

namespace neat {

Tensor rope(const Tensor& x, const Tensor& position_ids, const Tensor& inv_freq, int64_t heads,
            bool inverse = false);

}  // namespace neat
