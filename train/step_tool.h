// The small skeleton the step tools share (vit_step, text_step: one forward and backward of a
// model with a method attached, written to a file for comparison with PyTorch): their common
// flags, checks and output. Each tool adds its model's flags and builds its model and batch.
//
//   StepOptions so;  MethodOptions me;
//   ArgParser args("vit_step", "--batch FILE --out FILE", "One forward and backward.");
//   add_method_flags(args, me);
//   add_step_flags(args, so, "train_vit", "safetensors with pixel_values [B,C,H,W] and labels [B]");
//   return run_command(args, arguments, out, err, [&] {
//     check_step_options(so, args);
//     ... build the model, model.to(step_dtype(so)), forward, loss.backward() ...
//     write_step("vit_step", so, model, config.str(), report, logits, loss, loaded, notes, out);
//     return 0;
//   });
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "nn/module.h"
#include "nn/peft/attach.h"
#include "train/args.h"
#include "train/options.h"
#include "train/precision.h"

namespace neat {

struct StepOptions {
  std::string weights, adapter, batch, out;
  std::string dtype = "f32";
  std::string precision = "fp32";   // train/precision.h; bf16 needs --dtype f32
  bool tf32 = false;
  int64_t seed = 0;
  int64_t threads = 0;
};

// The "Step" section: --weights, --adapter, --batch, --dtype, --precision (--tf32), --out,
// --seed, --threads.
// trainer: the training program whose adapter files --adapter also takes.
void add_step_flags(ArgParser& args, StepOptions& options, const std::string& trainer,
                    const std::string& batch_help);
// --batch and --out given, --seed and --threads in range (UsageError); --adapter's method and
// settings when it records them (a peft directory, or an adapter file a training program
// wrote: take_adapter_settings), then the method's values (UsageError). method: the options
// add_method_flags bound to args.
void check_step_options(const StepOptions& options, MethodOptions& method, ArgParser& args);
DType step_dtype(const StepOptions& options);   // --dtype
// --precision (and --tf32) for a step on device ("cpu" or "cuda"): UsageError for a bad value,
// tf32 off CUDA, or bf16 with --dtype f64.
Precision step_precision(const StepOptions& options, const std::string& device);
// Writes logits, loss and grad.<name> of every trainable parameter to --out (metadata: config,
// method, dtype), then prints the weights' notes and one summary line on out.
void write_step(const std::string& program, const StepOptions& options, const Module& model,
                const std::string& config, const PeftReport& report, const Variable& logits,
                const Variable& loss, int64_t from_adapter, const std::vector<std::string>& notes,
                std::ostream& out);

}  // namespace neat
