#include "train/step_tool.h"

#include "nn/peft/adapter_file.h"
#include "tensor/safetensors.h"
#include "train/run_support.h"

namespace neat {

void add_step_flags(ArgParser& args, StepOptions& o, const std::string& trainer,
                    const std::string& batch_help) {
  args.section("Step");
  args.add("--weights", &o.weights, "FILE", "weights in safetensors, Hugging Face names");
  args.add("--adapter", &o.adapter, "FILE|DIR",
           "an adapter " + trainer + " wrote (adapter.safetensors) or peft's directory "
           "(adapter_config.json + adapter_model.safetensors): its config gives the method and "
           "its settings, and it is loaded whole; or any trainable tensors by adapter-file "
           "names, absent ones keeping their seeded init");
  args.add("--batch", &o.batch, "FILE", batch_help);
  args.add("--dtype", &o.dtype, "f32|f64", "precision of the step", {"f32", "f64"});
  add_precision_flags(args, &o.precision, &o.tf32);
  args.add("--out", &o.out, "FILE", "where logits, loss and grad.<name> are written");
  args.add("--seed", &o.seed, "N", "seed of the init of what no file provides");
  args.add("--threads", &o.threads, "N", "compute threads; 0 = all cores");
}

void check_step_options(const StepOptions& o, MethodOptions& method, ArgParser& args) {
  if (o.batch.empty() || o.out.empty()) throw UsageError("--batch and --out are required");
  if (o.seed < 0) throw UsageError("--seed must be >= 0");
  check_threads(o.threads);
  if (!o.adapter.empty() && has_adapter_config(o.adapter)) take_adapter_settings(o.adapter, args);
  peft_config_from(method);   // bad method values are usage errors before the batch is read
  const Precision precision = parse_precision(o.precision, o.tf32);
  if (precision == Precision::Bf16 && o.dtype == "f64")
    throw UsageError("--precision bf16 needs --dtype f32 (its masters are float32)");
}

Precision step_precision(const StepOptions& o, const std::string& device) {
  const Precision precision = parse_precision(o.precision, o.tf32);
  check_precision_device(precision, device);
  return precision;
}

DType step_dtype(const StepOptions& o) { return o.dtype == "f64" ? DType::Float64 : DType::Float32; }

void write_step(const std::string& program, const StepOptions& o, const Module& model,
                const std::string& config, const PeftReport& report, const Variable& logits,
                const Variable& loss, int64_t from_adapter, const std::vector<std::string>& notes,
                std::ostream& out) {
  const auto tensors = step_tensors(program, model, logits, loss);
  const char* precision = precision_name(parse_precision(o.precision, o.tf32));
  write_safetensors(o.out, tensors, {{"config", config}, {"method", report.str()},
                                     {"dtype", o.dtype}, {"precision", precision}});
  for (const std::string& note : notes) out << "weights: " << note << "\n";
  out << "loss " << loss.item() << "  logits " << shape_str(logits.shape()) << "  "
      << tensors.size() - 2 << " gradients (" << report.trainable << " values, " << from_adapter
      << " tensors from --adapter) -> " << o.out << "\n";
}

}  // namespace neat
