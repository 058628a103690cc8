#include "train/weights_check.h"

#include <cmath>
#include <map>

#include "train/system.h"

namespace neat {

std::string resolve_weights_path(const std::string& path) {
  if (!is_directory(path)) return path;
  const std::string inside = path + "/model.safetensors";
  NEAT_CHECK(file_exists(inside), "--weights ", path, " is a folder without model.safetensors (a ",
             "Hugging Face snapshot folder holds one; give the .safetensors file itself)");
  return inside;
}

namespace {

// The file's tensors by name without a leading "vit.".
std::map<std::string, Shape> backbone_shapes(const SafetensorsFile& file) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : file.tensors)
    shapes[name.rfind("vit.", 0) == 0 ? name.substr(4) : name] = t.shape();
  return shapes;
}

}  // namespace

ViTShape vit_shape_in(const SafetensorsFile& file) {
  const std::map<std::string, Shape> shapes = backbone_shapes(file);
  ViTShape s;
  auto patch = shapes.find("embeddings.patch_embeddings.projection.weight");   // [D, C, P, P]
  if (patch == shapes.end() || patch->second.size() != 4) return s;
  s.hidden = patch->second[0];
  s.channels = patch->second[1];
  s.patch = patch->second[2];
  const std::string prefix = "encoder.layer.";
  for (const auto& [name, shape] : shapes) {
    if (name.rfind(prefix, 0) != 0) continue;
    const size_t dot = name.find('.', prefix.size());
    const std::string index = name.substr(prefix.size(), dot - prefix.size());
    if (index.empty() || index.size() > 6 || index.find_first_not_of("0123456789") != std::string::npos)
      continue;
    s.depth = std::max<int64_t>(s.depth, std::stoll(index) + 1);
    if (name.find(".intermediate.dense.weight") != std::string::npos && shape.size() == 2)
      s.mlp_dim = shape[0];
  }
  auto position = shapes.find("embeddings.position_embeddings");   // [1, grid^2 + 1, D]
  if (position != shapes.end() && position->second.size() == 3) {
    const int64_t grid = int64_t(std::llround(std::sqrt(double(position->second[1] - 1))));
    if (grid * grid + 1 == position->second[1]) s.image_size = grid * s.patch;
  }
  s.found = s.depth > 0;
  for (const std::string& name : vit_preset_names()) {
    const ViTConfig p = vit_config(name);
    if (p.hidden == s.hidden) s.heads = p.heads;
    if (p.hidden == s.hidden && p.depth == s.depth && p.mlp_dim == s.mlp_dim && s.patch == 16)
      s.preset = name;
  }
  return s;
}

std::string ViTShape::str() const {
  return "hidden " + std::to_string(hidden) + ", " + std::to_string(depth) + " layers, MLP " +
         std::to_string(mlp_dim) + ", patch " + std::to_string(patch) +
         (image_size > 0 ? ", " + std::to_string(image_size) + " px" : "");
}

std::string ViTShape::flags() const {
  if (!preset.empty()) return "--model " + preset;
  return "--model custom --dim " + std::to_string(hidden) + " --depth " + std::to_string(depth) +
         " --mlp-dim " + std::to_string(mlp_dim) + " --patch " + std::to_string(patch) +
         (heads > 0 ? " --heads " + std::to_string(heads) : " --heads H (a divisor of the width: the file does not store it)");
}

bool ViTShape::matches(const ViTConfig& c) const {
  return found && c.hidden == hidden && c.depth == depth && c.mlp_dim == mlp_dim &&
         c.patch_size == patch && c.channels == channels;
}

NonFiniteParameter first_non_finite_parameter(const Module& model, bool trainable_only) {
  for (const auto& [name, p] : model.named_parameters(trainable_only)) {
    if (!is_floating(p.data().dtype())) continue;
    const Tensor t = p.data().to(Device::CPU);   // read on the host
    int64_t bad = 0;
    if (t.dtype() == DType::Float32) {
      const float* x = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) bad += !std::isfinite(x[i]);
    } else {
      const double* x = t.data<double>();
      for (int64_t i = 0; i < t.numel(); ++i) bad += !std::isfinite(x[i]);
    }
    if (bad > 0) return {name, bad, t.numel()};
  }
  return {};
}

void check_finite_parameters(const Module& model, const std::string& source) {
  const NonFiniteParameter bad = first_non_finite_parameter(model, /*trainable_only=*/false);
  NEAT_CHECK(bad.count == 0, source, ": tensor '", bad.name, "' holds ", bad.count,
             " NaN or Inf value", bad.count > 1 ? "s" : "", " of ", bad.numel,
             " (a damaged or badly converted file)");
}

}  // namespace neat
