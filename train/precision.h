// The mixed-precision policy of every training program, step tool and benchmark
// (--precision fp32|tf32|bf16; --tf32 is an alias of --precision tf32), decided once, at load,
// in this one place rather than as a cast per op (docs/bf16.md, "Mixed precision"):
//
//   fp32  float32 everywhere (the default).
//   tf32  float32 tensors; CUDA's float32 GEMMs on TF32 tensor cores (--device cuda only).
//   bf16  frozen floating parameters converted to bfloat16 once, here, and stored so (half
//         the memory; never re-cast per step); the input batch cast to bf16 once, so the
//         activations flow in bf16; trainable parameters stay float32 masters, with float32
//         gradients and AdamW state, each entering the forward through to_dtype (autograd/
//         cast.h's in_dtype_of, in the layers that own parameters); Neat's M network in
//         float32, cast to bf16 once per step; the loss float32 (cross_entropy of bf16 logits).
//
//   Precision p = parse_precision(options.precision, options.tf32);   // UsageError on a bad one
//   apply_precision(model, p);        // after loading weights and attaching the adapters
//   Variable logits = model.forward(Variable(images));   // the model casts its input
#pragma once
#include <cstdint>
#include <string>

#include "nn/module.h"
#include "train/args.h"

namespace neat {

enum class Precision { Fp32, Tf32, Bf16 };
const char* precision_name(Precision precision);   // "fp32", "tf32", "bf16"

// --precision NAME and the --tf32 alias on args; the values go to *precision and *tf32.
void add_precision_flags(ArgParser& args, std::string* precision, bool* tf32);
// The policy of the two flags: --tf32 is --precision tf32, and with another --precision a
// UsageError naming both; a name that is none of fp32, tf32, bf16 is a UsageError too.
Precision parse_precision(const std::string& name, bool tf32);
// UsageError for a policy the device cannot run: tf32 needs --device cuda.
void check_precision_device(Precision precision, const std::string& device);

// The dtype activations flow in: bfloat16 under bf16, else float32.
DType activation_dtype(Precision precision);

// What apply_precision did, for the run's log.
struct PrecisionReport {
  int64_t converted = 0;     // frozen parameters now stored in bf16
  int64_t bytes_saved = 0;   // their float32 bytes minus their bf16 bytes
  std::string str() const;   // "bf16: 150 frozen tensors stored in bfloat16 (-41.2 MB)"
};
// Applies the policy to a built model (weights loaded, adapters attached, on its device): under
// bf16, every frozen (requires_grad false) float32 parameter is replaced, in place, by its
// bfloat16 conversion, and models that cast their input (ViTForImageClassification) are told
// to cast it to bf16. Trainable parameters are untouched (float32 masters). fp32 / tf32 change
// nothing. A float64 model (the step tools' --dtype f64) is refused under bf16.
PrecisionReport apply_precision(Module& model, Precision precision);

// The dtype --merge writes (--merge-dtype NAME): fp32 / bf16 as named; auto: bf16 when the
// weights file (weights: a .safetensors file, or a directory holding model.safetensors) stores
// its floating tensors in BF16, else float32 (no weights file: a model trained from scratch).
DType merged_dtype(const std::string& name, const std::string& weights);
// --merge under any precision: the model widened to float32 (bf16-stored frozen weights exactly)
// so adapters merge in float32, merge_peft_layers, then the model converted to dtype.
void merge_in_float32(Module& model, DType dtype);

}  // namespace neat
