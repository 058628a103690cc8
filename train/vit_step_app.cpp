#include "train/vit_step_app.h"

#include <algorithm>
#include <memory>

#include "autograd/nn_functional.h"
#include "data/dataset.h"
#include "models/vit.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "tensor/safetensors.h"
#include "train/command.h"
#include "train/options.h"
#include "train/run_support.h"
#include "train/step_tool.h"
#include "train/system.h"

namespace neat {

namespace {

// The classifier's class count in a weights or adapter file (ours, or peft's
// adapter_model.safetensors), 0 when it has none.
int64_t classes_in(const SafetensorsFile* file) {
  if (file == nullptr) return 0;
  for (const char* name : {"classifier.weight", "base_model.model.classifier.weight"})
    if (file->contains(name)) return file->get(name).size(0);
  return 0;
}

int run(const ModelOptions& mo, const MethodOptions& me, const StepOptions& so,
        const std::string& device_name, const ArgParser& args, std::ostream& out) {
  const ScopedThreads threads(so.threads);
  const Precision precision = step_precision(so, device_name);
  const Device device = compute_device(device_name, precision == Precision::Tf32);
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
  if (!so.adapter.empty())
    adapter = std::make_unique<SafetensorsFile>(read_safetensors(adapter_tensors_path(so.adapter)));
  const int64_t file_classes = std::max(classes_in(weights.get()), classes_in(adapter.get()));
  ViTConfig config =
      vit_config_from(mo, args, pixels.size(1), pixels.size(2), file_classes);
  config.seed = uint64_t(so.seed);
  ViTForImageClassification model(config);
  // The step's dtype before any file is copied in, so float64 files keep every digit.
  const DType dtype = step_dtype(so);
  model.to(dtype);
  std::vector<std::string> notes;
  if (weights) notes = load_vit_weights(model, *weights).messages;
  const PeftConfig peft = seeded_peft_config(me, uint64_t(so.seed), model.shared_generator());
  const PeftReport report = attach_peft(model, peft);
  const int64_t from_adapter = so.adapter.empty() ? 0 : load_step_adapter(so.adapter, model, peft);

  model.to(device);
  apply_precision(model, precision);   // bf16: frozen weights stored in bf16, input cast once
  model.eval();
  const Variable logits = model.forward(Variable(pixels.to(dtype).to(device)));
  const Variable loss = cross_entropy(logits, labels.to(device));
  loss.backward();

  if (config.num_classes == 1)
    out << "note: with 1 class the cross-entropy and every gradient are 0 (Hugging Face's "
           "num_labels=1 means regression, which this program does not do)\n";
  write_step("vit_step", so, model, config.str(), report, logits, loss, from_adapter, notes, out);
  return 0;
}

}  // namespace

int vit_step_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err) {
  ModelOptions mo;
  mo.model = "custom";
  MethodOptions me;
  StepOptions so;
  ArgParser args("vit_step", "--batch FILE --out FILE [--weights FILE] [--adapter FILE|DIR] [options]",
                 "One forward and backward of a ViT with a method attached (eval mode); writes "
                 "logits, loss and the gradient of every trainable parameter.");
  add_model_flags(args, mo);
  add_method_flags(args, me);
  add_step_flags(args, so, "train_vit", "safetensors with pixel_values [B,C,H,W] and labels [B]");
  std::string device = "cpu";
  args.add("--device", &device, "cpu|cuda", "where to compute (outputs are written the same)",
           {"cpu", "cuda"});
  return run_command(args, arguments, out, err, [&] {
    check_step_options(so, me, args);
    return run(mo, me, so, device, args, out);
  });
}

}  // namespace neat
