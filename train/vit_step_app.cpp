#include "train/vit_step_app.h"

#include <algorithm>
#include <map>
#include <memory>

#include "autograd/nn_functional.h"
#include "data/dataset.h"
#include "models/vit.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "tensor/safetensors.h"
#include "train/options.h"
#include "train/run_support.h"
#include "train/system.h"

namespace neat {

namespace {

struct StepOptions {
  std::string weights, adapter, batch, out;
  std::string dtype = "f32";
  int64_t seed = 0;
  int64_t threads = 0;
  std::string device = "cpu";
};

// The classifier's class count in a weights or adapter file, 0 when it has none.
int64_t classes_in(const SafetensorsFile* file) {
  if (file == nullptr) return 0;
  return file->contains("classifier.weight") ? file->get("classifier.weight").size(0) : 0;
}

int run(const ModelOptions& mo, const MethodOptions& me, const StepOptions& so,
        const ArgParser& args, std::ostream& out) {
  const ScopedThreads threads(so.threads);
  const Device device = compute_device(so.device, /*tf32=*/false);
  const SafetensorsFile batch = read_safetensors(so.batch);
  const Tensor pixels = batch.get("pixel_values");
  const Tensor labels = batch.get("labels");
  NEAT_CHECK(pixels.dim() == 4 && pixels.size(0) > 0 && pixels.size(2) == pixels.size(3),
             "--batch ", so.batch, ": pixel_values must be [B, C, H, H] with B >= 1, got ",
             shape_str(pixels.shape()));
  NEAT_CHECK(labels.dtype() == DType::Int64 && labels.shape() == Shape{pixels.size(0)}, "--batch ",
             so.batch, ": labels must be int64 [", pixels.size(0), "], got ",
             dtype_name(labels.dtype()), " ", shape_str(labels.shape()));

  std::unique_ptr<SafetensorsFile> weights, adapter;
  if (!so.weights.empty()) weights = std::make_unique<SafetensorsFile>(read_safetensors(so.weights));
  if (!so.adapter.empty()) adapter = std::make_unique<SafetensorsFile>(read_safetensors(so.adapter));
  const int64_t file_classes = std::max(classes_in(weights.get()), classes_in(adapter.get()));
  ViTConfig config =
      vit_config_from(mo, args, pixels.size(1), pixels.size(2), file_classes);
  config.seed = uint64_t(so.seed);
  ViTForImageClassification model(config);
  // The step's dtype before any file is copied in, so float64 files keep every digit.
  const DType dtype = so.dtype == "f64" ? DType::Float64 : DType::Float32;
  model.to(dtype);
  std::vector<std::string> notes;
  if (weights) notes = load_vit_weights(model, *weights).messages;
  const PeftConfig peft = seeded_peft_config(me, uint64_t(so.seed), model.shared_generator());
  const PeftReport report = attach_peft(model, peft);
  const int64_t from_adapter = so.adapter.empty() ? 0 : load_step_adapter(so.adapter, model, peft);

  model.to(device);
  model.eval();
  const Variable logits = model.forward(Variable(pixels.to(dtype).to(device)));
  const Variable loss = cross_entropy(logits, labels.to(device));
  loss.backward();

  const auto tensors = step_tensors("vit_step", model, logits, loss);
  write_safetensors(so.out, tensors,
                    {{"config", config.str()}, {"method", report.str()}, {"dtype", so.dtype}});
  for (const std::string& note : notes) out << "weights: " << note << "\n";
  if (config.num_classes == 1)
    out << "note: with 1 class the cross-entropy and every gradient are 0 (Hugging Face's "
           "num_labels=1 means regression, which this program does not do)\n";
  out << "loss " << loss.item() << "  logits " << shape_str(logits.shape()) << "  "
      << tensors.size() - 2 << " gradients (" << report.trainable << " values, " << from_adapter
      << " tensors from --adapter) -> " << so.out << "\n";
  return 0;
}

}  // namespace

int vit_step_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err) {
  ModelOptions mo;
  mo.model = "custom";
  MethodOptions me;
  StepOptions so;
  ArgParser args("vit_step", "--batch FILE --out FILE [--weights FILE] [--adapter FILE] [options]",
                 "One forward and backward of a ViT with a method attached (eval mode); writes "
                 "logits, loss and the gradient of every trainable parameter.");
  add_model_flags(args, mo);
  add_method_flags(args, me);
  args.section("Step");
  args.add("--weights", &so.weights, "FILE", "backbone in safetensors, Hugging Face names");
  args.add("--adapter", &so.adapter, "FILE",
           "trainable tensors by adapter-file names; absent ones keep their seeded init (an "
           "adapter file train_vit wrote must match the method flags and is loaded whole)");
  args.add("--batch", &so.batch, "FILE", "safetensors with pixel_values [B,C,H,W] and labels [B]");
  args.add("--dtype", &so.dtype, "f32|f64", "precision of the step", {"f32", "f64"});
  args.add("--out", &so.out, "FILE", "where logits, loss and grad.<name> are written");
  args.add("--seed", &so.seed, "N", "seed of the init of what no file provides");
  args.add("--threads", &so.threads, "N", "compute threads; 0 = all cores");
  args.add("--device", &so.device, "cpu|cuda", "where to compute (outputs are written the same)",
           {"cpu", "cuda"});
  try {
    try {
      args.parse(arguments);
      if (args.help_requested()) {
        out << args.help();
        return 0;
      }
      if (so.batch.empty() || so.out.empty()) throw UsageError("--batch and --out are required");
      if (so.seed < 0) throw UsageError("--seed must be >= 0");
      check_threads(so.threads);
      peft_config_from(me);   // bad method values are usage errors before any file is read
      return run(mo, me, so, args, out);
    } catch (const UsageError& e) {
      err << "vit_step: " << e.what() << "\n" << args.usage() << "\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::string text = e.what();
    std::replace(text.begin(), text.end(), '\n', ' ');
    err << "vit_step: error: " << text << "\n";
    return 1;
  }
}

}  // namespace neat
