// Adapter directories in Hugging Face peft's layout, both ways:
//
//   DIR/adapter_config.json         {"peft_version": "0.22.0", "peft_type": "LORA", "r": 8,
//                                    "lora_alpha": 8, "use_dora": false, "target_modules":
//                                    "<regex>", "modules_to_save": ["classifier"], ...}
//   DIR/adapter_model.safetensors   base_model.model.<HF name>.lora_A.weight, ...
//
//   save_peft_adapter("runs/x/peft", vit, config);   // PeftModel.from_pretrained(vit, "runs/x/peft")
//   PeftConfig c = read_peft_adapter_config("runs/x/peft");
//   load_peft_adapter("runs/x/peft", vit, c);        // after attach_peft(vit, c)
//
// Methods: lora and dora (peft_type LORA, use_dora), vera (VERA, with the shared vera_A and
// vera_B in the file, as peft's save_projection), fourierft (FOURIERFT; the positions are not
// stored: both sides draw them with torch's randperm from random_loc_seed), and neat (peft_type
// NEAT: peft lacks it, the layout is the same). The classifier is a module to save, as peft's
// modules_to_save=["classifier"]. Tensor names map between ours and peft's:
//   ours                                      peft's file
//   X.lora_A.weight, X.lora_B.weight          base_model.model.X.lora_A.weight, ...lora_B.weight
//   X.lora_magnitude_vector                   base_model.model.X.lora_magnitude_vector
//   X.vera_lambda_d, X.vera_lambda_b          base_model.model.X.vera_lambda_d, ...
//   (shared) vera_A, vera_B                   base_model.vera_A, base_model.vera_B
//   X.fourierft_spectrum                      base_model.model.X.fourierft_spectrum
//   classifier.weight                         base_model.model.classifier.weight
#pragma once
#include <string>

#include "nn/peft/attach.h"

namespace neat {

// The peft release whose save_pretrained layout save_peft_adapter writes, recorded as
// "peft_version" in adapter_config.json as peft (>= 0.18) records its own. peft 0.22 reads
// every file as written (VeRA's projections included); older releases rebuild VeRA's projections
// from projection_prng_key, which gives the same values (nn/peft/vera.h). Which releases load
// which method: docs/peft_methods.md (tests/parity/check_peft_versions.py).
inline constexpr const char* kPeftVersion = "0.22.0";

// True for the methods with a peft layout (lora, dora, vera, fourierft, neat).
bool has_peft_layout(const std::string& method);
// Writes DIR (created if needed; each file atomically). Errors for other methods.
void save_peft_adapter(const std::string& dir, const Module& model, const PeftConfig& config);
// The config of a peft-layout directory; errors name the file and the unsupported field.
PeftConfig read_peft_adapter_config(const std::string& dir);
// Copies the directory's tensors into a model that has `config` attached (errors as
// load_adapter's: a missing, extra or misshapen tensor names the file and the tensor).
void load_peft_adapter(const std::string& dir, Module& model, const PeftConfig& config);

// The regex peft's target_modules gets for our target list (a full match of the module name).
std::string peft_target_regex(const std::string& targets);

}  // namespace neat
