#include "nn/patch_embedding.h"

#include <cmath>

#include "autograd/cast.h"
#include "autograd/matmul.h"
#include "autograd/shape_ops.h"
#include "nn/init.h"

namespace neat {

Variable patchify(const Variable& x, int64_t patch) {
  NEAT_CHECK(x.dim() == 4 && patch > 0 && x.size(2) % patch == 0 && x.size(3) % patch == 0,
             "patchify: input ", shape_str(x.shape()), " is not [B, C, H, W] with H and W ",
             "divisible by the patch size ", patch);
  int64_t B = x.size(0), C = x.size(1), gh = x.size(2) / patch, gw = x.size(3) / patch;
  // [B, C, gh, P, gw, P] -> [B, gh, gw, C, P, P]: each patch's pixels in the conv weight's order
  Variable grid = reshape(x, {B, C, gh, patch, gw, patch});
  Variable patches = permute(grid, {0, 2, 4, 1, 3, 5});
  return reshape(patches, {B, gh * gw, C * patch * patch});
}

PatchEmbedding::PatchEmbedding(int64_t channels, int64_t dim, int64_t patch, uint64_t seed)
    : channels_(channels), dim_(dim), patch_(patch) {
  NEAT_CHECK(channels > 0 && dim > 0 && patch > 0, "PatchEmbedding: sizes must be positive, got ",
             "channels ", channels, ", dim ", dim, ", patch ", patch);
  Generator gen(seed);
  weight = register_parameter("weight", Tensor({dim, channels, patch, patch}));
  kaiming_uniform_(weight, std::sqrt(5.0), gen);
  bias = register_parameter("bias", Tensor({dim}));
  double bound = 1.0 / std::sqrt(double(fan_in(weight.shape())));
  uniform_(bias, -bound, bound, gen);
}

// y[b, n, d] = sum_{c,i,j} x[b, c, P*gy + i, P*gx + j] W[d, c, i, j] + bias[d]
Variable PatchEmbedding::forward(const Variable& x) {
  NEAT_CHECK(x.dim() == 4 && x.size(1) == channels_, "PatchEmbedding: input ",
             shape_str(x.shape()), " is not [B, ", channels_, ", H, W]");
  Variable w = reshape(in_dtype_of(weight, x), {dim_, channels_ * patch_ * patch_});
  return linear(patchify(x, patch_), w, in_dtype_of(bias, x));
}

}  // namespace neat
