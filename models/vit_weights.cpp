// Loading and saving ViT weights by their Hugging Face names, and the bicubic resize that
// adapts position embeddings to another image size.
#include <algorithm>
#include <cmath>

#include "models/vit.h"
#include "tensor/safetensors.h"
#include "tensor/shape_ops.h"

namespace neat {

std::string ViTLoadReport::str() const {
  std::string out;
  for (const std::string& m : messages) out += (out.empty() ? "" : "\n") + m;
  return out;
}

// ---- bicubic resize, as torch's upsample_bicubic2d -------------------------------------------

namespace {

// Keys' cubic convolution kernel with A = -0.75 (torch's choice), split by distance:
// |x| <= 1: ((A + 2)|x| - (A + 3)) x^2 + 1;   1 < |x| < 2: ((A|x| - 5A)|x| + 8A)|x| - 4A.
constexpr double kCubicA = -0.75;
double cubic_near(double x) { return ((kCubicA + 2) * x - (kCubicA + 3)) * x * x + 1; }
double cubic_far(double x) { return ((kCubicA * x - 5 * kCubicA) * x + 8 * kCubicA) * x - 4 * kCubicA; }

// Weights of the 4 taps at floor(src) - 1 .. floor(src) + 2, t = src - floor(src).
void cubic_weights(double t, double w[4]) {
  w[0] = cubic_far(t + 1);
  w[1] = cubic_near(t);
  w[2] = cubic_near(1 - t);
  w[3] = cubic_far(2 - t);
}

}  // namespace

// x [C, H, W] -> [C, OH, OW]. align_corners=False with an explicit size: output pixel o
// samples the input at src = (o + 0.5) * in / out - 0.5; taps outside the image are clamped
// to the border (not zero), and src is not clamped (both as torch does for cubic).
Tensor resize_bicubic(const Tensor& x, int64_t out_h, int64_t out_w) {
  NEAT_CHECK(x.dim() == 3 && out_h > 0 && out_w > 0, "resize_bicubic: input ",
             shape_str(x.shape()), " is not [C, H, W] or the size ", out_h, "x", out_w,
             " is not positive");
  check_float(x, "resize_bicubic");
  int64_t C = x.size(0), H = x.size(1), W = x.size(2);
  NEAT_CHECK(H > 0 && W > 0, "resize_bicubic: empty input ", shape_str(x.shape()));
  Tensor in = x.to(DType::Float64);
  Tensor out({C, out_h, out_w}, DType::Float64);
  const double* src = in.data<double>();
  double* dst = out.data<double>();
  double scale_h = double(H) / double(out_h), scale_w = double(W) / double(out_w);
  auto clamp = [](int64_t i, int64_t n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); };
  for (int64_t oy = 0; oy < out_h; ++oy) {
    double sy = scale_h * (double(oy) + 0.5) - 0.5;
    int64_t y0 = int64_t(std::floor(sy));
    double wy[4];
    cubic_weights(sy - double(y0), wy);
    for (int64_t ox = 0; ox < out_w; ++ox) {
      double sx = scale_w * (double(ox) + 0.5) - 0.5;
      int64_t x0 = int64_t(std::floor(sx));
      double wx[4];
      cubic_weights(sx - double(x0), wx);
      for (int64_t c = 0; c < C; ++c) {
        const double* plane = src + c * H * W;
        double value = 0;
        for (int ky = 0; ky < 4; ++ky) {
          const double* row = plane + clamp(y0 - 1 + ky, H) * W;
          double row_value = 0;
          for (int kx = 0; kx < 4; ++kx) row_value += wx[kx] * row[clamp(x0 - 1 + kx, W)];
          value += wy[ky] * row_value;
        }
        dst[(c * out_h + oy) * out_w + ox] = value;
      }
    }
  }
  return out.to(x.dtype());
}

// pos [1, 1 + g*g, D]: row 0 is the cls embedding, rows 1.. the g x g grid in row-major order.
Tensor interpolate_position_embeddings(const Tensor& pos, int64_t grid_h, int64_t grid_w) {
  NEAT_CHECK(pos.dim() == 3 && pos.size(0) == 1 && pos.size(1) >= 2,
             "interpolate_position_embeddings: expected [1, 1 + N, D], got ",
             shape_str(pos.shape()));
  int64_t n = pos.size(1) - 1, D = pos.size(2);
  int64_t g = int64_t(std::llround(std::sqrt(double(n))));
  NEAT_CHECK(g * g == n, "interpolate_position_embeddings: ", n,
             " patch positions do not form a square grid");
  Tensor cls = narrow(pos, 1, 0, 1);
  Tensor grid = permute(narrow(pos, 1, 1, n).reshape({g, g, D}), {2, 0, 1});  // [D, g, g]
  Tensor resized = resize_bicubic(grid, grid_h, grid_w);                       // [D, gh, gw]
  Tensor rows = permute(resized, {1, 2, 0}).reshape({1, grid_h * grid_w, D});
  return concat({cls, rows}, 1);
}

// ---- loading -------------------------------------------------------------------------------

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

ViTLoadReport load_from(ViTForImageClassification& model,
                        const std::map<std::string, Tensor>& file, const std::string& source) {
  const ViTConfig& config = model.config();
  ViTLoadReport report;
  auto where = "load_vit_weights: " + source + ": ";

  // File names -> model names: ViTModel files lack the "vit." prefix; their pooler is unused.
  std::map<std::string, Tensor> tensors;
  std::vector<std::string> ignored;
  for (const auto& [name, t] : file) {
    std::string model_name = name;
    if (starts_with(name, "pooler.")) {
      ignored.push_back(name);
      continue;
    }
    if (starts_with(name, "embeddings.") || starts_with(name, "encoder.") ||
        starts_with(name, "layernorm."))
      model_name = "vit." + name;
    NEAT_CHECK(tensors.count(model_name) == 0, where, "'", model_name, "' appears both with ",
               "and without the 'vit.' prefix");
    tensors[model_name] = t;
  }

  std::map<std::string, Variable> params;
  for (auto& [name, p] : model.named_parameters()) params[name] = p;
  auto param = [&](const std::string& name) {
    auto p = params.find(name);
    NEAT_CHECK(p != params.end(), where, "the model has no parameter '", name,
               "' (load weights before attaching an adapter)");
    return p->second;
  };

  // Check everything before copying anything: a failed load leaves the model as it was.
  std::vector<std::pair<Variable, Tensor>> copies;
  std::vector<std::string> problems;
  int64_t found = 0;   // backbone names the file has, whatever their shapes
  const std::string pos_name = "vit.embeddings.position_embeddings";
  for (const std::string& name : vit_parameter_names(config)) {
    if (starts_with(name, "classifier.")) continue;  // below
    Variable p = param(name);
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      problems.push_back("missing '" + name + "' (model shape " + shape_str(p.shape()) + ")");
      continue;
    }
    ++found;
    Tensor t = it->second;
    if (name == pos_name && t.shape() != p.shape() && t.dim() == 3 && t.size(0) == 1 &&
        t.size(1) > 1 && t.size(2) == p.size(2)) {
      int64_t n = t.size(1) - 1, g = int64_t(std::llround(std::sqrt(double(n))));
      if (g * g == n) {
        t = interpolate_position_embeddings(t.to(p.dtype()), config.grid(), config.grid());
        report.position_interpolated = true;
        report.messages.push_back("position embeddings interpolated bicubically from a " +
                                  std::to_string(g) + "x" + std::to_string(g) + " to a " +
                                  std::to_string(config.grid()) + "x" +
                                  std::to_string(config.grid()) + " patch grid");
      }
    }
    if (t.shape() != p.shape()) {
      problems.push_back("'" + name + "' has shape " + shape_str(t.shape()) + " in the file but " +
                         shape_str(p.shape()) + " in the model");
      continue;
    }
    copies.emplace_back(p, t);
  }
  // One readable line however wrong the file is: the first problems, then how many more.
  if (!problems.empty()) {
    const size_t shown = std::min<size_t>(problems.size(), 4);
    std::string all;
    for (size_t i = 0; i < shown; ++i) all += (i ? "; " : "") + problems[i];
    if (problems.size() > shown)
      all += "; and " + std::to_string(problems.size() - shown) + " more problems";
    if (found == 0 && !file.empty())
      all += " (none of the file's " + std::to_string(file.size()) +
             " tensors is a ViT backbone tensor, e.g. '" + file.begin()->first +
             "': not a ViT weights file?)";
    NEAT_CHECK(false, where, all);
  }

  // The classifier loads only as a whole and only with the model's class count.
  Variable cw = param("classifier.weight"), cb = param("classifier.bias");
  auto w = tensors.find("classifier.weight"), b = tensors.find("classifier.bias");
  if (w != tensors.end() && b != tensors.end() && w->second.shape() == cw.shape() &&
      b->second.shape() == cb.shape()) {
    copies.emplace_back(cw, w->second);
    copies.emplace_back(cb, b->second);
    report.classifier_loaded = true;
  } else if (w == tensors.end() && b == tensors.end()) {
    report.messages.push_back("no classifier in " + source + ": the classifier (" +
                              std::to_string(config.num_classes) +
                              " classes) keeps its initialisation");
  } else {
    std::string file_classes = w != tensors.end() && w->second.dim() == 2
                                   ? std::to_string(w->second.size(0)) + " classes"
                                   : "an incomplete classifier";
    report.messages.push_back("the classifier in " + source + " has " + file_classes +
                              ", the model " + std::to_string(config.num_classes) +
                              ": the classifier keeps its initialisation");
  }

  for (const auto& [p, t] : copies) p.data().copy_from(t);  // converts the dtype if needed
  report.loaded = int64_t(copies.size());

  if (!ignored.empty())
    report.messages.push_back("ignored " + std::to_string(ignored.size()) +
                              " pooler tensors (ViTForImageClassification has no pooler)");
  for (const auto& [name, t] : tensors)
    if (!params.count(name)) report.messages.push_back("ignored unknown tensor '" + name + "'");
  return report;
}

}  // namespace

ViTLoadReport load_vit_weights(ViTForImageClassification& model,
                               const std::map<std::string, Tensor>& tensors) {
  return load_from(model, tensors, "weights");
}

ViTLoadReport load_vit_weights(ViTForImageClassification& model, const std::string& path) {
  return load_vit_weights(model, read_safetensors(path));
}

ViTLoadReport load_vit_weights(ViTForImageClassification& model, const SafetensorsFile& file) {
  return load_from(model, file.to_map(), file.path);
}

// ---- saving ---------------------------------------------------------------------------------

void save_vit_weights(const ViTForImageClassification& model, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  std::map<std::string, Tensor> state = model.state_dict();
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const std::string& name : vit_parameter_names(model.config())) {
    auto it = state.find(name);
    NEAT_CHECK(it != state.end(), "save_vit_weights: ", path, ": the model has no parameter '",
               name, "' (merge and detach an adapter that replaced it first)");
    tensors.emplace_back(name, it->second);
  }
  write_safetensors(path, tensors, metadata);
}

Json hf_vit_config_json(const ViTConfig& config, const std::vector<std::string>& class_names) {
  Json j = Json::object();
  j.set("architectures", Json::array({Json("ViTForImageClassification")}));
  j.set("model_type", "vit");
  j.set("image_size", config.image_size);
  j.set("patch_size", config.patch_size);
  j.set("num_channels", config.channels);
  j.set("hidden_size", config.hidden);
  j.set("num_hidden_layers", config.depth);
  j.set("num_attention_heads", config.heads);
  j.set("intermediate_size", config.mlp_dim);
  j.set("hidden_act", "gelu");
  j.set("hidden_dropout_prob", config.dropout);
  j.set("attention_probs_dropout_prob", config.attention_dropout);
  j.set("layer_norm_eps", config.layer_norm_eps);
  j.set("initializer_range", config.initializer_range);
  j.set("qkv_bias", true);
  Json id2label = Json::object(), label2id = Json::object();
  for (int64_t c = 0; c < config.num_classes; ++c) {
    const std::string name = size_t(c) < class_names.size() && !class_names[size_t(c)].empty()
                                 ? class_names[size_t(c)]
                                 : "LABEL_" + std::to_string(c);
    id2label.set(std::to_string(c), name);
    label2id.set(name, c);
  }
  j.set("id2label", id2label);
  j.set("label2id", label2id);
  return j;
}

ViTConfig vit_config_from_json(const Json& json) {
  auto text = [&](const char* key, const char* wanted, const char* why) {
    NEAT_CHECK(!json.contains(key) || json[key].as_string() == wanted, "vit config: ", key, " '",
               json[key].as_string(), "' is not supported (", why, ")");
  };
  text("model_type", "vit", "a ViT's config.json says model_type vit");
  text("hidden_act", "gelu", "the MLP computes the exact GELU");
  NEAT_CHECK(!json.contains("qkv_bias") || json["qkv_bias"].as_bool(),
             "vit config: qkv_bias false is not supported (query, key and value have biases)");
  ViTConfig c;
  auto integer = [&](const char* key, int64_t& field) {
    if (json.contains(key)) field = json[key].as_int();
  };
  auto number = [&](const char* key, double& field) {
    if (json.contains(key) && json[key].is_number()) field = json[key].as_number();
  };
  integer("image_size", c.image_size);
  integer("patch_size", c.patch_size);
  integer("num_channels", c.channels);
  integer("hidden_size", c.hidden);
  integer("num_hidden_layers", c.depth);
  integer("num_attention_heads", c.heads);
  integer("intermediate_size", c.mlp_dim);
  number("hidden_dropout_prob", c.dropout);
  number("attention_probs_dropout_prob", c.attention_dropout);
  number("layer_norm_eps", c.layer_norm_eps);
  number("initializer_range", c.initializer_range);
  if (json.contains("id2label")) c.num_classes = int64_t(json["id2label"].size());
  integer("num_labels", c.num_classes);
  c.validate();
  return c;
}

}  // namespace neat
