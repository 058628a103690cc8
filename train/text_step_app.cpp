#include "train/text_step_app.h"

#include <memory>

#include "autograd/nn_functional.h"
#include "data/dataset.h"
#include "models/bert.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "train/options.h"
#include "train/run_support.h"
#include "train/system.h"

namespace neat {

namespace {

struct StepOptions {
  std::string config, weights, adapter, batch, out;
  std::string dtype = "f32";
  int64_t num_labels = 0;
  int64_t seed = 0;
  int64_t threads = 0;
};

// An int64 [B, N] tensor of the batch file, or undefined when absent and optional.
Tensor batch_ids(const SafetensorsFile& batch, const char* name, const Shape& shape, bool required) {
  if (!required && !batch.contains(name)) return Tensor();
  const Tensor& t = batch.get(name);
  NEAT_CHECK(t.dtype() == DType::Int64 && (shape.empty() ? t.dim() == 2 && t.size(0) > 0 : t.shape() == shape),
             "--batch ", batch.path, ": ", name, " must be int64 ",
             shape.empty() ? std::string("[B, N] with B >= 1") : shape_str(shape), ", got ",
             dtype_name(t.dtype()), " ", shape_str(t.shape()));
  return t;
}

int run(const MethodOptions& me, const StepOptions& so, std::ostream& out) {
  const ScopedThreads threads(so.threads);
  const SafetensorsFile batch = read_safetensors(so.batch);
  const Tensor ids = batch_ids(batch, "input_ids", {}, true);
  const Tensor mask = batch_ids(batch, "attention_mask", ids.shape(), false);
  const Tensor types = batch_ids(batch, "token_type_ids", ids.shape(), false);
  const Tensor labels = batch.get("labels");
  NEAT_CHECK(labels.dtype() == DType::Int64 && labels.shape() == Shape{ids.size(0)}, "--batch ",
             so.batch, ": labels must be int64 [", ids.size(0), "], got ",
             dtype_name(labels.dtype()), " ", shape_str(labels.shape()));

  BertConfig config;
  try {
    config = bert_config_from_json(Json::parse(read_file(so.config)));
  } catch (const std::exception& e) {
    NEAT_CHECK(false, "--config ", so.config, ": ", e.what());
  }
  if (so.num_labels > 0) config.num_labels = so.num_labels;
  config.seed = uint64_t(so.seed);
  BertForSequenceClassification model(config);
  // The step's dtype before any file is copied in, so float64 files keep every digit.
  const DType dtype = so.dtype == "f64" ? DType::Float64 : DType::Float32;
  model.to(dtype);
  std::vector<std::string> notes;
  if (!so.weights.empty()) notes = load_bert_weights(model, so.weights).messages;
  const PeftConfig peft = seeded_peft_config(me, uint64_t(so.seed), model.shared_generator());
  const PeftReport report = attach_peft(model, peft);
  const int64_t from_adapter = so.adapter.empty() ? 0 : load_step_adapter(so.adapter, model, peft);

  model.eval();
  const Variable logits = model.forward(ids, mask, types);
  const Variable loss = cross_entropy(logits, labels);
  loss.backward();
  const auto tensors = step_tensors("text_step", model, logits, loss);
  write_safetensors(so.out, tensors,
                    {{"config", config.str()}, {"method", report.str()}, {"dtype", so.dtype}});
  for (const std::string& note : notes) out << "weights: " << note << "\n";
  out << "loss " << loss.item() << "  logits " << shape_str(logits.shape()) << "  "
      << tensors.size() - 2 << " gradients (" << report.trainable << " values, " << from_adapter
      << " tensors from --adapter) -> " << so.out << "\n";
  return 0;
}

}  // namespace

int text_step_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err) {
  MethodOptions me;
  StepOptions so;
  ArgParser args("text_step",
                 "--config FILE --batch FILE --out FILE [--weights FILE] [--adapter FILE] [options]",
                 "One forward and backward of a BERT / RoBERTa classifier with a method attached "
                 "(eval mode); writes logits, loss and the gradient of every trainable parameter.");
  add_method_flags(args, me);
  args.section("Step");
  args.add("--config", &so.config, "FILE", "Hugging Face config.json (model_type bert or roberta)");
  args.add("--weights", &so.weights, "FILE", "weights in safetensors, Hugging Face names");
  args.add("--adapter", &so.adapter, "FILE",
           "trainable tensors by adapter-file names; absent ones keep their seeded init (an "
           "adapter file train_text wrote must match the method flags and is loaded whole)");
  args.add("--batch", &so.batch, "FILE",
           "safetensors with input_ids [B,N], labels [B], optional attention_mask, token_type_ids");
  args.add("--num-labels", &so.num_labels, "N", "classifier outputs; 0 = the config's");
  args.add("--dtype", &so.dtype, "f32|f64", "precision of the step", {"f32", "f64"});
  args.add("--out", &so.out, "FILE", "where logits, loss and grad.<name> are written");
  args.add("--seed", &so.seed, "N", "seed of the init of what no file provides");
  args.add("--threads", &so.threads, "N", "compute threads; 0 = all cores");
  try {
    try {
      args.parse(arguments);
      if (args.help_requested()) {
        out << args.help();
        return 0;
      }
      if (so.config.empty() || so.batch.empty() || so.out.empty())
        throw UsageError("--config, --batch and --out are required");
      if (so.seed < 0 || so.num_labels < 0) throw UsageError("--seed and --num-labels must be >= 0");
      check_threads(so.threads);
      peft_config_from(me);   // bad method values are usage errors before any file is read
      return run(me, so, out);
    } catch (const UsageError& e) {
      err << "text_step: " << e.what() << "\n" << args.usage() << "\n";
      return 2;
    }
  } catch (const std::exception& e) {
    err << "text_step: error: " << one_line(e.what()) << "\n";
    return 1;
  }
}

}  // namespace neat
