#include "models/vit.h"

#include <sstream>

#include "autograd/cast.h"
#include "autograd/elementwise.h"
#include "autograd/shape_ops.h"
#include "nn/activation.h"
#include "nn/init.h"
#include "nn/linear.h"

namespace neat {

// ---- configs ---------------------------------------------------------------------------------

void ViTConfig::validate() const {
  auto positive = [](int64_t v, const char* field) {
    NEAT_CHECK(v > 0, "ViTConfig: ", field, " must be positive, got ", v);
  };
  positive(image_size, "image_size");
  positive(patch_size, "patch_size");
  positive(channels, "channels");
  positive(hidden, "hidden");
  positive(depth, "depth");
  positive(heads, "heads");
  positive(mlp_dim, "mlp_dim");
  positive(num_classes, "num_classes");
  NEAT_CHECK(image_size % patch_size == 0, "ViTConfig: image_size ", image_size,
             " is not divisible by patch_size ", patch_size);
  NEAT_CHECK(hidden % heads == 0, "ViTConfig: hidden ", hidden, " is not divisible by heads ",
             heads);
  NEAT_CHECK(dropout >= 0 && dropout < 1 && attention_dropout >= 0 && attention_dropout < 1,
             "ViTConfig: dropout probabilities must be in [0, 1), got ", dropout, " and ",
             attention_dropout);
  NEAT_CHECK(layer_norm_eps >= 0 && initializer_range > 0,
             "ViTConfig: need layer_norm_eps >= 0 and initializer_range > 0");
}

std::string ViTConfig::str() const {
  std::ostringstream s;
  s << "image " << image_size << ", patch " << patch_size << ", channels " << channels
    << ", hidden " << hidden << ", depth " << depth << ", heads " << heads << ", mlp " << mlp_dim
    << ", classes " << num_classes << ", dropout " << dropout << ", attention dropout "
    << attention_dropout;
  return s.str();
}

namespace {

struct Preset {
  const char* name;
  int64_t hidden, depth, heads, mlp_dim;
};
const Preset kPresets[] = {
    {"vit-tiny", 192, 12, 3, 768},
    {"vit-small", 384, 12, 6, 1536},
    {"vit-base", 768, 12, 12, 3072},
    {"vit-large", 1024, 24, 16, 4096},
};

}  // namespace

std::vector<std::string> vit_preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : kPresets) names.push_back(p.name);
  return names;
}

ViTConfig vit_config(const std::string& preset) {
  for (const Preset& p : kPresets) {
    if (preset != p.name) continue;
    ViTConfig c;
    c.hidden = p.hidden;
    c.depth = p.depth;
    c.heads = p.heads;
    c.mlp_dim = p.mlp_dim;
    return c;
  }
  std::string known;
  for (const std::string& n : vit_preset_names()) known += (known.empty() ? "" : ", ") + n;
  NEAT_CHECK(false, "vit_config: unknown preset '", preset, "' (known: ", known, ")");
}

std::vector<std::string> vit_parameter_names(const ViTConfig& config) {
  std::vector<std::string> names = {
      "vit.embeddings.cls_token", "vit.embeddings.position_embeddings",
      "vit.embeddings.patch_embeddings.projection.weight",
      "vit.embeddings.patch_embeddings.projection.bias"};
  const char* layer_modules[] = {"attention.attention.query", "attention.attention.key",
                                 "attention.attention.value", "attention.output.dense",
                                 "intermediate.dense",        "output.dense",
                                 "layernorm_before",          "layernorm_after"};
  for (int64_t i = 0; i < config.depth; ++i)
    for (const char* m : layer_modules)
      for (const char* p : {"weight", "bias"})
        names.push_back("vit.encoder.layer." + std::to_string(i) + "." + m + "." + p);
  for (const char* n : {"vit.layernorm.weight", "vit.layernorm.bias", "classifier.weight",
                        "classifier.bias"})
    names.push_back(n);
  return names;
}

// ---- modules ---------------------------------------------------------------------------------

namespace {

// HF ViTPatchEmbeddings: only holds the Conv2d, named "projection".
class ViTPatchEmbeddings : public Module {
 public:
  explicit ViTPatchEmbeddings(std::shared_ptr<PatchEmbedding> projection) {
    register_module("projection", std::move(projection));
  }
  std::string type_name() const override { return "ViTPatchEmbeddings"; }
};

}  // namespace

ViTEmbeddings::ViTEmbeddings(const ViTConfig& config, std::shared_ptr<Generator> gen) {
  int64_t D = config.hidden;
  cls_token = register_parameter("cls_token", Tensor({1, 1, D}));
  position_embeddings = register_parameter("position_embeddings",
                                           Tensor({1, config.num_patches() + 1, D}));
  projection = std::make_shared<PatchEmbedding>(config.channels, D, config.patch_size);
  patch_embeddings = register_module("patch_embeddings",
                                     std::make_shared<ViTPatchEmbeddings>(projection));
  dropout = register_module("dropout", std::make_shared<Dropout>(config.dropout, gen));
  trunc_normal_(cls_token, config.initializer_range, *gen);
  trunc_normal_(position_embeddings, config.initializer_range, *gen);
  trunc_normal_(projection->weight, config.initializer_range, *gen);
  zeros_(projection->bias);
}

// pixel_values [B, C, H, W] -> patches [B, N, D] -> [cls; patches] + pos [B, N+1, D]
Variable ViTEmbeddings::forward(const Variable& pixel_values) {
  Variable patches = projection->forward(pixel_values);
  int64_t B = patches.size(0), N = patches.size(1);
  NEAT_CHECK(N + 1 == position_embeddings.size(1), "ViTEmbeddings: input ",
             shape_str(pixel_values.shape()), " gives ", N, " patches but the model has ",
             position_embeddings.size(1) - 1, " position embeddings (a different image size?)");
  // cls_token [1, 1, D] repeated over the batch (its gradient: the sum over the batch).
  Variable cls = expand(in_dtype_of(cls_token, patches), {B, 1, cls_token.size(2)});
  Variable h = add(concat({cls, patches}, 1), in_dtype_of(position_embeddings, patches));
  return dropout->forward(h);
}

ViTDense::ViTDense(std::shared_ptr<Layer> dense_layer, const std::string& post_name,
                   std::shared_ptr<Layer> post_layer, const std::string& hf_type)
    : type_(hf_type), post_name_(post_name) {
  dense = register_module("dense", std::move(dense_layer));
  post = register_module(post_name, std::move(post_layer));
}

Variable ViTDense::forward(const Variable& x) {
  if (dynamic_cast<GELU*>(post.get()) != nullptr) return linear_then_gelu(*dense, x);  // fused
  return post->forward(dense->forward(x));
}

// Whether forward_add puts the residual into the dense's GEMM (linear_add): a plain Linear
// followed by a Dropout that is the identity now.
static bool residual_in_gemm(const Layer& dense, const Layer& post) {
  auto* dropout = dynamic_cast<const Dropout*>(&post);
  return dropout != nullptr && dropout->is_identity() && dynamic_cast<const Linear*>(&dense);
}

Variable ViTDense::forward_add(const Variable& x, const Variable& residual) {
  if (residual_in_gemm(*dense, *post)) return linear_then_add(*dense, x, residual);
  return add(forward(x), residual);
}

// The GEMM takes the residual where it can (no pass of its own), else the layer norm does.
AddLayerNorm ViTDense::forward_add_norm(const Variable& x, const Variable& residual,
                                        LayerNorm& norm) {
  if (!residual_in_gemm(*dense, *post)) return norm.forward_add(forward(x), residual);
  Variable sum = linear_then_add(*dense, x, residual);
  return {sum, norm.forward(sum)};
}

void ViTDense::on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) {
  if (name == "dense") dense = as_layer(child, name);
  else if (name == post_name_) post = as_layer(child, name);
}

ViTAttention::ViTAttention(const ViTConfig& config, std::shared_ptr<Generator> gen) {
  const int64_t D = config.hidden;
  // One statement each: the generator's draws go to query, key, value in this order.
  auto query = hf_linear(D, D, config.initializer_range, *gen);
  auto key = hf_linear(D, D, config.initializer_range, *gen);
  auto value = hf_linear(D, D, config.initializer_range, *gen);
  attention = register_module(
      "attention", std::make_shared<MultiHeadSelfAttention>(query, key, value, config.heads,
                                                            config.attention_dropout, gen));
  output = register_module(
      "output", std::make_shared<ViTDense>(
                    hf_linear(config.hidden, config.hidden, config.initializer_range, *gen),
                    "dropout", std::make_shared<Dropout>(config.dropout, gen), "ViTSelfOutput"));
}

Variable ViTAttention::forward(const Variable& x) {
  return output->forward(attention->forward(x));
}

AddLayerNorm ViTAttention::forward_add_norm(const Variable& x, const Variable& residual,
                                            LayerNorm& norm) {
  return output->forward_add_norm(attention->forward(x), residual, norm);
}

ViTLayer::ViTLayer(const ViTConfig& config, std::shared_ptr<Generator> gen) {
  int64_t D = config.hidden;
  attention = register_module("attention", std::make_shared<ViTAttention>(config, gen));
  intermediate = register_module(
      "intermediate", std::make_shared<ViTDense>(
                          hf_linear(D, config.mlp_dim, config.initializer_range, *gen),
                          "intermediate_act_fn", std::make_shared<GELU>(), "ViTIntermediate"));
  output = register_module(
      "output", std::make_shared<ViTDense>(
                    hf_linear(config.mlp_dim, D, config.initializer_range, *gen), "dropout",
                    std::make_shared<Dropout>(config.dropout, gen), "ViTOutput"));
  layernorm_before = register_module(
      "layernorm_before", std::make_shared<LayerNorm>(D, config.layer_norm_eps));
  layernorm_after = register_module(
      "layernorm_after", std::make_shared<LayerNorm>(D, config.layer_norm_eps));
}

// h = h + attention(LN1(h));  h = h + output(intermediate(LN2(h)))      all [B, N+1, D]
// The first residual add is fused into attention's output GEMM or into LN2 (forward_add_norm).
Variable ViTLayer::forward(const Variable& h) {
  AddLayerNorm h1 = attention->forward_add_norm(layernorm_before->forward(h), h, *layernorm_after);
  return output->forward_add(intermediate->forward(h1.y), h1.sum);
}

ViTEncoder::ViTEncoder(const ViTConfig& config, std::shared_ptr<Generator> gen) {
  layer = register_module("layer", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < config.depth; ++i) {
    layers.push_back(std::make_shared<ViTLayer>(config, gen));
    layer->append(layers.back());
  }
}

Variable ViTEncoder::forward(const Variable& h) {
  Variable out = h;
  for (auto& l : layers) out = l->forward(out);
  return out;
}

ViTModel::ViTModel(const ViTConfig& config, std::shared_ptr<Generator> gen) {
  embeddings = register_module("embeddings", std::make_shared<ViTEmbeddings>(config, gen));
  encoder = register_module("encoder", std::make_shared<ViTEncoder>(config, gen));
  layernorm = register_module("layernorm",
                              std::make_shared<LayerNorm>(config.hidden, config.layer_norm_eps));
}

Variable ViTModel::forward(const Variable& pixel_values) {
  return layernorm->forward(encoder->forward(embeddings->forward(pixel_values)));
}

ViTForImageClassification::ViTForImageClassification(const ViTConfig& config)
    : config_(config), gen_(std::make_shared<Generator>(config.seed)) {
  config.validate();
  vit = register_module("vit", std::make_shared<ViTModel>(config, gen_));
  classifier = register_module<Layer>(
      "classifier", hf_linear(config.hidden, config.num_classes, config.initializer_range, *gen_));
}

Variable ViTForImageClassification::features(const Variable& pixel_values) {
  const Variable x = input_dtype_ ? to_dtype(pixel_values, *input_dtype_) : pixel_values;
  Variable h = vit->forward(x);  // [B, N+1, D]
  return reshape(narrow(h, 1, 0, 1), {h.size(0), h.size(2)});
}

Variable ViTForImageClassification::forward(const Variable& pixel_values) {
  return classifier->forward(features(pixel_values));
}

void ViTForImageClassification::on_child_replaced(const std::string& name,
                                                  const std::shared_ptr<Module>& child) {
  if (name == "classifier") classifier = as_layer(child, name);
}

}  // namespace neat
