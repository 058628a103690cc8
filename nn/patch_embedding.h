// Patch embedding: a Conv2d with kernel = stride = P, as HF's ViTPatchEmbeddings.projection,
// done as patchify + one matmul (the patches do not overlap, so the convolution is a GEMM).
//   x [B, C, H, W] -> patches [B, N, C*P*P] (N = (H/P) * (W/P), row-major over the grid,
//   each patch flattened in (c, i, j) order like the conv weight) -> y = patches W^T + b [B, N, D]
// weight keeps the Conv2d shape [D, C, P, P], so Hugging Face weights load unchanged.
#pragma once
#include "nn/module.h"

namespace neat {

// [B, C, H, W] -> [B, (H/P)*(W/P), C*P*P], differentiable (reshape + permute).
Variable patchify(const Variable& x, int64_t patch);

class PatchEmbedding : public Layer {
 public:
  // Conv2d default init (kaiming-uniform a = sqrt(5), fan_in = C*P*P) from Generator(seed).
  PatchEmbedding(int64_t channels, int64_t dim, int64_t patch, uint64_t seed = 0);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "PatchEmbedding"; }

  int64_t patch() const { return patch_; }
  Variable weight;  // [D, C, P, P]
  Variable bias;    // [D]

 private:
  int64_t channels_, dim_, patch_;
};

}  // namespace neat
