// Attaching a fine-tuning method to a model by target names, like peft's target_modules:
//
//   PeftConfig config;
//   config.method = "neat";  config.targets = "qvmlp";  config.neat.rank = 8;
//   PeftReport report = attach_peft(vit, config);   // wraps the targets, freezes the rest
//   std::cout << report.str();   // "neat ... on 8 layers: trainable 5,012 / 30,405 (16.48%)"
//
// Methods (the backbone is frozen unless "full"; the classifier's parameters always train):
//   neat, lora, dora, vera, fourierft  wrap every target Linear in a Neat / Lora / Dora / Vera /
//                                      FourierFT layer
//   pissa, milora     a Lora layer started from W0's top / bottom singular triplets (pissa.h)
//   adapter           a Houlsby bottleneck after every attention and MLP output projection
//                     (its own targets; --targets is ignored)
//   bitfit            every bias trains (Zaken et al. 2022)
//   head              a linear probe: only the classifier trains
//   full              everything trains
//
// Targets: "qv" (attention query and value), "qvmlp" (also the MLP's two Linears), or a
// comma-separated list of names. A target matches a module whose dotted name ends with the
// target's dot-separated parts, "*" matching any one part: "query" matches
// "vit.encoder.layer.0.attention.attention.query"; "layer.*.output.dense" matches the MLP's
// "vit.encoder.layer.3.output.dense" but not "vit.encoder.layer.3.attention.output.dense".
#pragma once
#include <iostream>
#include <string>
#include <vector>

#include "nn/peft/fourierft.h"
#include "nn/peft/houlsby.h"
#include "nn/peft/lora.h"
#include "nn/peft/neat.h"
#include "nn/peft/vera.h"

namespace neat {

struct PeftConfig {
  std::string method = "neat";   // one of peft_methods()
  std::string targets = "qv";    // for the wrapping methods: "qv", "qvmlp" or a list (see above)
  NeatOptions neat;
  LoraOptions lora;              // lora, dora, pissa, milora
  int64_t pissa_niter = -1;      // pissa: -1 the exact SVD, n >= 0 peft's "pissa_niter_n" (pissa.h)
  // Where a slow start (PiSSA's and MiLoRA's SVDs) says what it does and how long it took;
  // null: nowhere.
  std::ostream* progress = &std::cerr;
  VeraOptions vera;
  FourierOptions fourier;
  HoulsbyOptions adapter;
  // The output projections a Houlsby adapter follows (method "adapter"): ViT's and BERT's
  // attention output and MLP output; a LLaMA's are self_attn.o_proj and mlp.down_proj.
  std::vector<std::string> adapter_targets = {"attention.output.dense", "layer.*.output.dense"};
  std::string classifier = "classifier";   // the module whose parameters always train
};

// "qv" / "qvmlp" -> their target names (Hugging Face ViT and BERT / RoBERTa names: the query
// and value Linears "attention.*.query|value"; qvmlp adds "intermediate.dense" and
// "layer.*.output.dense"); a list -> its items.
std::vector<std::string> resolve_targets(const std::string& targets);
bool target_matches(const std::string& module_name, const std::string& target);
// neat, lora, dora, pissa, milora, vera, fourierft, adapter, bitfit, head, full.
const std::vector<std::string>& peft_methods();
// Errors listing the methods unless method is one of them.
void check_peft_method(const std::string& method);
// The targets a method adapts: config.targets, or the adapter's fixed output projections.
std::vector<std::string> method_targets(const PeftConfig& config);

struct PeftReport {
  std::string method;
  std::string settings;                 // "rank 8, depth 2, relu, scale 1, targets qv"
  std::vector<std::string> adapted;     // dotted names of the wrapped layers
  int64_t trainable = 0, total = 0;     // parameter values (adapter included in total)
  double ratio() const { return total > 0 ? double(trainable) / double(total) : 0.0; }
  std::string str() const;
};

// Wraps the targets (every method but bitfit, head and full), sets requires_grad on every parameter for the method, and
// reports. Errors: an unknown method; a target that matches no Linear (naming it); a target
// that is already adapted; a missing classifier (unless config.classifier is empty).
PeftReport attach_peft(Module& model, const PeftConfig& config);

// Folds every adapter of the model into its weight (Neat, LoRA and its variants, VeRA,
// FourierFT). Errors on a Houlsby adapter, which has no merged form.
void merge_peft_layers(Module& model);

// The counts of a model as it stands (for a report after loading, or for "full").
PeftReport peft_report(const Module& model, const PeftConfig& config,
                       std::vector<std::string> adapted = {});

}  // namespace neat
