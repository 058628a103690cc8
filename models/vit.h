// Vision Transformer (Dosovitskiy et al. 2021), pre-LayerNorm, exactly as Hugging Face's
// ViTForImageClassification, down to the parameter names, so published weights load as is:
//
//   h0 = [cls; patches(x) W_p^T + b_p] + pos                      [B, N+1, D]
//   for each layer:  h = h + attention(layernorm_before(h))        (self-attention + dense)
//                    h = h + dense2(gelu(dense1(layernorm_after(h))))
//   logits = classifier(layernorm(h)[:, 0])                         [B, classes]
//
//   ViTConfig config = vit_config("vit-base");  config.num_classes = 10;
//   ViTForImageClassification vit(config);
//   ViTLoadReport r = load_vit_weights(vit, "vit-base-patch16-224-in21k.safetensors");
//   Variable logits = vit.forward(Variable(pixel_values));          // [B, 3, 224, 224]
//   vit.replace_module("vit.encoder.layer.3.attention.attention.query", neat_layer);
//
// Module tree and names (HF's):                    D hidden, N patches, P patch, C channels
//   vit.embeddings.cls_token [1,1,D]   vit.embeddings.position_embeddings [1,N+1,D]
//   vit.embeddings.patch_embeddings.projection.{weight [D,C,P,P], bias [D]}
//   vit.encoder.layer.{i}.attention.attention.{query,key,value}.{weight,bias}
//   vit.encoder.layer.{i}.attention.output.dense.{weight,bias}
//   vit.encoder.layer.{i}.intermediate.dense.{weight,bias}        [MLP,D]
//   vit.encoder.layer.{i}.output.dense.{weight,bias}              [D,MLP]
//   vit.encoder.layer.{i}.layernorm_before.{weight,bias}, ...layernorm_after.{weight,bias}
//   vit.layernorm.{weight,bias}   classifier.{weight,bias}
// Every Linear above is held as a Layer and can be replaced by its dotted name (adapters);
// the other modules are fixed parts of the tree.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/attention.h"
#include "nn/dropout.h"
#include "nn/layer_norm.h"
#include "nn/module.h"
#include "nn/module_list.h"
#include "tensor/json.h"
#include "nn/patch_embedding.h"

namespace neat {

struct SafetensorsFile;

struct ViTConfig {
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t channels = 3;
  int64_t hidden = 768;     // D
  int64_t depth = 12;       // encoder layers
  int64_t heads = 12;
  int64_t mlp_dim = 3072;   // intermediate size
  int64_t num_classes = 1000;
  double dropout = 0.0;            // HF hidden_dropout_prob (embeddings, after each dense)
  double attention_dropout = 0.0;  // HF attention_probs_dropout_prob
  double layer_norm_eps = 1e-12;
  double initializer_range = 0.02;
  uint64_t seed = 0;               // init, then the dropout stream

  int64_t grid() const { return image_size / patch_size; }  // patches per side
  int64_t num_patches() const { return grid() * grid(); }   // N
  // Errors naming the field: sizes positive, image divisible by patch, hidden by heads.
  void validate() const;
  std::string str() const;  // "image 224, patch 16, channels 3, hidden 768, ..."
};

// Presets (patch 16, image 224, 1000 classes): vit-tiny (192, 12 layers, 3 heads, mlp 768),
// vit-small (384, 12, 6, 1536), vit-base (768, 12, 12, 3072), vit-large (1024, 24, 16, 4096).
// Unknown name: error listing the known ones.
ViTConfig vit_config(const std::string& preset);
std::vector<std::string> vit_preset_names();
// The Hugging Face parameter names of a ViTForImageClassification with this config, in
// registration order (what named_parameters() of a fresh model returns).
std::vector<std::string> vit_parameter_names(const ViTConfig& config);

// ---- the module tree, one class per Hugging Face module ------------------------------------

// cls token, position embeddings, patch_embeddings.projection; x [B,C,H,W] -> [B, N+1, D].
class ViTEmbeddings : public Module {
 public:
  ViTEmbeddings(const ViTConfig& config, std::shared_ptr<Generator> gen);
  Variable forward(const Variable& pixel_values);
  std::string type_name() const override { return "ViTEmbeddings"; }

  Variable cls_token;            // [1, 1, D]
  Variable position_embeddings;  // [1, N+1, D]
  std::shared_ptr<Module> patch_embeddings;    // holds "projection"
  std::shared_ptr<PatchEmbedding> projection;  // the Conv2d as patchify + matmul
  std::shared_ptr<Dropout> dropout;
};

// HF's ViTSelfOutput, ViTIntermediate and ViTOutput share one shape: a replaceable Linear
// named "dense", then a parameter-free step (dropout or the GELU) under HF's name for it.
//   y = post(dense(x))
class ViTDense : public Layer {
 public:
  ViTDense(std::shared_ptr<Layer> dense, const std::string& post_name, std::shared_ptr<Layer> post,
           const std::string& hf_type);
  Variable forward(const Variable& x) override;
  // post(dense(x)) + residual (HF's ViTOutput with its input_tensor): one fused op when dense
  // is a plain Linear and post a Dropout that is the identity now (eval, or p = 0).
  Variable forward_add(const Variable& x, const Variable& residual);
  // {sum = forward_add(x, residual), norm(sum)}: the residual add fused into the GEMM as
  // forward_add fuses it, else into the layer norm (LayerNorm::forward_add).
  AddLayerNorm forward_add_norm(const Variable& x, const Variable& residual, LayerNorm& norm);
  std::string type_name() const override { return type_; }
  std::shared_ptr<Layer> dense, post;

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;

 private:
  std::string type_, post_name_;
};

// HF ViTAttention: "attention" (HF's ViTSelfAttention: query, key, value and the attention
// between them, nn/attention.h) then "output" (ViTSelfOutput: dense, dropout).
class ViTAttention : public Module {
 public:
  ViTAttention(const ViTConfig& config, std::shared_ptr<Generator> gen);
  Variable forward(const Variable& x);
  // {sum = forward(x) + residual, norm(sum)} (ViTDense::forward_add_norm)
  AddLayerNorm forward_add_norm(const Variable& x, const Variable& residual, LayerNorm& norm);
  std::string type_name() const override { return "ViTAttention"; }
  std::shared_ptr<MultiHeadSelfAttention> attention;
  std::shared_ptr<ViTDense> output;
};

// HF ViTLayer: pre-LayerNorm block with two residuals.
class ViTLayer : public Module {
 public:
  ViTLayer(const ViTConfig& config, std::shared_ptr<Generator> gen);
  Variable forward(const Variable& h);  // [B, N+1, D] -> [B, N+1, D]
  std::string type_name() const override { return "ViTLayer"; }
  std::shared_ptr<ViTAttention> attention;
  std::shared_ptr<ViTDense> intermediate;  // dense D -> MLP, then intermediate_act_fn (GELU)
  std::shared_ptr<ViTDense> output;        // dense MLP -> D, then dropout
  std::shared_ptr<LayerNorm> layernorm_before, layernorm_after;
};

// HF ViTEncoder: the layers, registered as "layer.{i}".
class ViTEncoder : public Module {
 public:
  ViTEncoder(const ViTConfig& config, std::shared_ptr<Generator> gen);
  Variable forward(const Variable& h);
  std::string type_name() const override { return "ViTEncoder"; }
  std::shared_ptr<ModuleList> layer;
  std::vector<std::shared_ptr<ViTLayer>> layers;  // the same modules, typed
};

// HF ViTModel without the pooler: embeddings, encoder, layernorm.
class ViTModel : public Module {
 public:
  ViTModel(const ViTConfig& config, std::shared_ptr<Generator> gen);
  Variable forward(const Variable& pixel_values);  // [B, N+1, D] after the final layernorm
  std::string type_name() const override { return "ViTModel"; }
  std::shared_ptr<ViTEmbeddings> embeddings;
  std::shared_ptr<ViTEncoder> encoder;
  std::shared_ptr<LayerNorm> layernorm;
};

class ViTForImageClassification : public Module {
 public:
  // Initialised like HF (trunc-normal std initializer_range, zero biases, LayerNorm 1/0) from
  // Generator(config.seed); the same generator then drives every Dropout.
  explicit ViTForImageClassification(const ViTConfig& config);
  // pixel_values [B, C, image, image] -> logits [B, classes]
  Variable forward(const Variable& pixel_values);
  // The classifier's input: cls token after the final layernorm, [B, D].
  Variable features(const Variable& pixel_values);
  std::string type_name() const override { return "ViTForImageClassification"; }
  // The dtype forward() and features() cast pixel_values to, once, so every activation has it
  // (bfloat16 under --precision bf16: train/precision.h). Unset (the default): none, the
  // activations take the input's dtype.
  void set_input_dtype(DType dtype) { input_dtype_ = dtype; }
  std::optional<DType> input_dtype() const { return input_dtype_; }

  const ViTConfig& config() const { return config_; }
  // The stream every Dropout draws from (reseed it to replay a run); adapters with dropout
  // (LoRA) share it through shared_generator().
  Generator& generator() { return *gen_; }
  const std::shared_ptr<Generator>& shared_generator() const { return gen_; }

  std::shared_ptr<ViTModel> vit;
  std::shared_ptr<Layer> classifier;  // Linear(D, classes)

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;

 private:
  ViTConfig config_;
  std::shared_ptr<Generator> gen_;
  std::optional<DType> input_dtype_;
};

// ---- pretrained weights (models/vit_weights.cpp) ------------------------------------------

struct ViTLoadReport {
  int64_t loaded = 0;              // tensors copied into the model
  bool classifier_loaded = false;  // false: the file had none or another class count
  bool position_interpolated = false;
  std::vector<std::string> messages;  // one line per notable event, for the user
  std::string str() const;            // the messages joined by newlines
};

// Loads Hugging Face ViT weights by name, with the "vit." prefix (ViTForImageClassification)
// or without (ViTModel, e.g. google/vit-base-patch16-224-in21k; its pooler.* is ignored).
// The classifier keeps its init when the file has none or another class count; position
// embeddings are interpolated (bicubic, as HF interpolate_pos_encoding) when the file's grid
// differs. A missing backbone tensor, or one of another shape, is an error naming it and both
// shapes. Tensors of other dtypes are converted to the model's.
ViTLoadReport load_vit_weights(ViTForImageClassification& model,
                               const std::map<std::string, Tensor>& tensors);
ViTLoadReport load_vit_weights(ViTForImageClassification& model, const std::string& path);
// The same from a file already read (errors name file.path).
ViTLoadReport load_vit_weights(ViTForImageClassification& model, const SafetensorsFile& file);

// Writes every parameter named in vit_parameter_names(model.config()) to a safetensors file
// (HF names, "vit." prefix). An attached adapter's own tensors are not written; a base
// parameter that is no longer reachable by its HF name is an error naming it.
void save_vit_weights(const ViTForImageClassification& model, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});

// The config.json Hugging Face's ViTForImageClassification.from_pretrained reads beside
// save_vit_weights' file: the sizes, dropout and initializer settings, and id2label / label2id
// from the class names ("LABEL_i" where a name is missing, as transformers does).
Json hf_vit_config_json(const ViTConfig& config, const std::vector<std::string>& class_names);
// The ViTConfig such a config.json describes (what --predict builds from a run or a merged
// model): the sizes, dropouts, eps, and num_classes from id2label (or num_labels). What the
// model does not compute is refused by name: model_type other than vit, hidden_act other than
// gelu, qkv_bias false.
ViTConfig vit_config_from_json(const Json& json);

// pos [1, 1 + g*g, D] -> [1, 1 + grid_h*grid_w, D]: cls row kept, the g x g grid resized
// bicubically (align_corners=False, A = -0.75, borders clamped), as torch's interpolate.
Tensor interpolate_position_embeddings(const Tensor& pos, int64_t grid_h, int64_t grid_w);
// x [C, H, W] -> [C, out_h, out_w], torch.nn.functional.interpolate(mode="bicubic",
// align_corners=False, size=(out_h, out_w)).
Tensor resize_bicubic(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace neat
