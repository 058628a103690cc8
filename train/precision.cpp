#include "train/precision.h"

#include <cstdio>

#include "models/bert.h"
#include "models/llama.h"
#include "models/vit.h"
#include "nn/peft/attach.h"
#include "tensor/files.h"
#include "tensor/safetensors.h"
#include "train/system.h"

namespace neat {

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::Fp32: return "fp32";
    case Precision::Tf32: return "tf32";
    case Precision::Bf16: return "bf16";
  }
  return "?";
}

void add_precision_flags(ArgParser& args, std::string* precision, bool* tf32) {
  args.add("--precision", precision, "fp32|tf32|bf16",
           "fp32; tf32: with --device cuda, float32 GEMMs on TF32 tensor cores (~1e-3 relative "
           "error per product, as PyTorch's allow_tf32); bf16: frozen weights stored in "
           "bfloat16 and activations in bf16, trainable parameters, gradients and AdamW state "
           "float32 (docs/bf16.md)",
           {"fp32", "tf32", "bf16"});
  args.add_switch("--tf32", tf32, "the same as --precision tf32");
}

Precision parse_precision(const std::string& name, bool tf32) {
  for (Precision p : {Precision::Fp32, Precision::Tf32, Precision::Bf16}) {
    if (name != precision_name(p)) continue;
    if (tf32 && p == Precision::Bf16)
      throw UsageError("--tf32 (= --precision tf32) conflicts with --precision " + name);
    return tf32 ? Precision::Tf32 : p;
  }
  throw UsageError("--precision: '" + name + "' is not one of fp32, tf32, bf16");
}

void check_precision_device(Precision precision, const std::string& device) {
  if (precision == Precision::Tf32 && device != "cuda")
    throw UsageError("--precision tf32 (--tf32) needs --device cuda");
}

DType activation_dtype(Precision precision) {
  return precision == Precision::Bf16 ? DType::BFloat16 : DType::Float32;
}

std::string PrecisionReport::str() const {
  char text[160];
  std::snprintf(text, sizeof text, "bf16: %lld frozen tensors stored in bfloat16 (-%.1f MB)",
                (long long)converted, double(bytes_saved) / 1e6);
  return text;
}

PrecisionReport apply_precision(Module& model, Precision precision) {
  PrecisionReport report;
  if (precision != Precision::Bf16) return report;
  for (auto& [name, p] : model.named_parameters()) {
    NEAT_CHECK(p.dtype() != DType::Float64, "--precision bf16: parameter ", name,
               " is float64 (bf16 runs from a float32 model)");
    if (p.requires_grad() || p.dtype() != DType::Float32) continue;   // masters; done (shared)
    p.set_data(p.data().to(DType::BFloat16));
    ++report.converted;
    report.bytes_saved += p.numel() * int64_t(dtype_size(DType::Float32) -
                                              dtype_size(DType::BFloat16));
  }
  if (auto* vit = dynamic_cast<ViTForImageClassification*>(&model))
    vit->set_input_dtype(activation_dtype(precision));
  if (auto* bert = dynamic_cast<BertForSequenceClassification*>(&model))
    bert->set_activation_dtype(activation_dtype(precision));
  if (auto* llama = dynamic_cast<LlamaForCausalLM*>(&model))
    llama->set_activation_dtype(activation_dtype(precision));
  return report;
}

DType merged_dtype(const std::string& name, const std::string& weights) {
  if (name == "fp32") return DType::Float32;
  if (name == "bf16") return DType::BFloat16;
  NEAT_CHECK(name == "auto", "--merge-dtype: '", name, "' is not one of auto, fp32, bf16");
  std::string path = weights;
  if (!path.empty() && is_directory(path)) path += "/model.safetensors";
  if (path.empty() || !file_exists(path) || is_directory(path)) return DType::Float32;
  for (const auto& [tensor_name, t] : read_safetensors(path, HalfFloats::AsStored).tensors)
    if (is_floating(t.dtype()))
      return t.dtype() == DType::BFloat16 ? DType::BFloat16 : DType::Float32;
  return DType::Float32;
}

void merge_in_float32(Module& model, DType dtype) {
  model.to(DType::Float32);
  merge_peft_layers(model);
  model.to(dtype);
}

}  // namespace neat
