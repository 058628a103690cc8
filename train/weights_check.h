// What train_vit checks about a --weights file before and after loading it, so a wrong file is
// one line a user can act on:
//
//   std::string path = resolve_weights_path("snapshots/abc123");   // a folder: its model.safetensors
//   SafetensorsFile file = read_safetensors(path);
//   ViTShape in_file = vit_shape_in(file);      // hidden, depth, MLP, patch, image size from shapes
//   in_file.flags();                            // "--model vit-base" or "--model custom --dim ..."
//   check_finite_parameters(model, path);       // error naming a tensor that holds NaN or Inf
#pragma once
#include <cstdint>
#include <string>

#include "models/vit.h"
#include "tensor/safetensors.h"

namespace neat {

// A path to a safetensors file: the path itself, or DIR/model.safetensors for a folder (a
// Hugging Face snapshot). Errors name what is missing.
std::string resolve_weights_path(const std::string& path);

// The ViT shape a weights file holds, inferred from its tensors' shapes (Hugging Face names, with
// or without "vit."). heads is 0 when no preset has this width (the file does not store it).
struct ViTShape {
  bool found = false;   // the file has a patch embedding and at least one encoder layer
  int64_t hidden = 0, depth = 0, mlp_dim = 0, patch = 0, channels = 0, image_size = 0, heads = 0;
  std::string preset;   // "vit-base" when every size matches one, else ""
  // "hidden 768, 12 layers, MLP 3072, patch 16, 224 px"
  std::string str() const;
  // The train_vit flags that build this shape: "--model vit-base" or "--model custom --dim ...".
  std::string flags() const;
  // Whether config has this backbone shape (image size aside: position embeddings interpolate).
  bool matches(const ViTConfig& config) const;
};
ViTShape vit_shape_in(const SafetensorsFile& file);

// The first parameter (of the trainable ones, or all) holding NaN or Inf, and how many such
// values it has; count 0 when every value is finite.
struct NonFiniteParameter {
  std::string name;
  int64_t count = 0, numel = 0;
};
NonFiniteParameter first_non_finite_parameter(const Module& model, bool trainable_only);

// Error naming the first parameter that holds NaN or Inf, how many such values it has, and the
// file it came from (a damaged or badly converted file).
void check_finite_parameters(const Module& model, const std::string& source);

}  // namespace neat
