// Adapter files: only the trainable tensors of a fine-tuned model, plus the settings needed to
// rebuild it, in one safetensors file. Names follow peft's pattern on the target's Hugging
// Face name, and the classifier is included:
//
//   vit.encoder.layer.0.attention.attention.query.neat_A.weight     [R, OUT]
//   vit.encoder.layer.0.attention.attention.query.neat_B.weight     [OUT, R]
//   vit.encoder.layer.0.attention.attention.query.neat_layers.0.weight   [R, R]
//   ...lora_A.weight [R, IN], ...lora_B.weight [OUT, R]   classifier.weight, classifier.bias
//
// __metadata__ holds {"format": "neat-adapter", "version": "1", "config": "<JSON>"}, the JSON
// being the method and its settings, e.g.
//   {"method":"neat","targets":"qv","rank":8,"depth":2,"activation":"relu","scale":1}
// (VeRA's also "projections": its shared pair is rebuilt from projection_seed as peft draws it;
// a VeRA file without the mark was drawn by an older generator and is refused.)
//
//   save_adapter("run.adapter.safetensors", vit, config);
//   ViTForImageClassification fresh(vit_config);  load_vit_weights(fresh, "base.safetensors");
//   attach_adapter("run.adapter.safetensors", fresh);   // attach_peft from the file, then load
//
// A directory in peft's layout (adapter_config.json + adapter_model.safetensors,
// nn/peft/peft_format.h) is read wherever a path is taken here.
#pragma once
#include <string>

#include "nn/peft/attach.h"

namespace neat {

// Writes every trainable parameter of the model (attached with `config`) and the metadata.
void save_adapter(const std::string& path, const Module& model, const PeftConfig& config);
// The config stored in an adapter file; errors when the file is not one or of another version.
PeftConfig read_adapter_config(const std::string& path);
// Copies the file's tensors into a model that has `config` attached. Errors name the file and:
// a method or setting that differs from the file's (LoRA's dropout may differ: it only acts in
// training), a trainable tensor the file lacks, one of
// another shape, or a file tensor that is not a trainable parameter of the model.
void load_adapter(const std::string& path, Module& model, const PeftConfig& config);
// attach_peft with the file's config, then load_adapter.
PeftReport attach_adapter(const std::string& path, Module& model);

// Whether the path is an adapter that records its config: a directory (peft's layout) or a
// safetensors file whose metadata says "format": "neat-adapter". Errors when it does not exist.
bool has_adapter_config(const std::string& path);
// The safetensors file that holds an adapter's tensors: the path itself, or for a directory
// DIR/adapter_model.safetensors.
std::string adapter_tensors_path(const std::string& path);

}  // namespace neat
