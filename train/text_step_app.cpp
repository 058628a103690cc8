#include "train/text_step_app.h"

#include <memory>

#include "autograd/nn_functional.h"
#include "data/dataset.h"
#include "models/bert.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "train/command.h"
#include "train/options.h"
#include "train/run_support.h"
#include "train/step_tool.h"
#include "train/system.h"

namespace neat {

namespace {

// text_step's own flags besides StepOptions.
struct TextStepOptions {
  std::string config;
  int64_t num_labels = 0;
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

int run(const MethodOptions& me, const StepOptions& so, const TextStepOptions& to,
        std::ostream& out) {
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
    config = bert_config_from_json(Json::parse(read_file(to.config)));
  } catch (const std::exception& e) {
    NEAT_CHECK(false, "--config ", to.config, ": ", e.what());
  }
  if (to.num_labels > 0) config.num_labels = to.num_labels;
  config.seed = uint64_t(so.seed);
  BertForSequenceClassification model(config);
  // The step's dtype before any file is copied in, so float64 files keep every digit.
  const DType dtype = step_dtype(so);
  model.to(dtype);
  std::vector<std::string> notes;
  if (!so.weights.empty()) notes = load_bert_weights(model, so.weights).messages;
  const PeftConfig peft = seeded_peft_config(me, uint64_t(so.seed), model.shared_generator());
  const PeftReport report = attach_peft(model, peft);
  const int64_t from_adapter = so.adapter.empty() ? 0 : load_step_adapter(so.adapter, model, peft);
  apply_precision(model, step_precision(so, "cpu"));   // bf16: frozen weights stored in bf16

  model.eval();
  const Variable logits = model.forward(ids, mask, types);
  const Variable loss = cross_entropy(logits, labels);
  loss.backward();
  write_step("text_step", so, model, config.str(), report, logits, loss, from_adapter, notes, out);
  return 0;
}

}  // namespace

int text_step_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err) {
  MethodOptions me;
  StepOptions so;
  TextStepOptions to;
  ArgParser args("text_step",
                 "--config FILE --batch FILE --out FILE [--weights FILE] [--adapter FILE|DIR] [options]",
                 "One forward and backward of a BERT / RoBERTa classifier with a method attached "
                 "(eval mode); writes logits, loss and the gradient of every trainable parameter.");
  add_method_flags(args, me);
  add_step_flags(args, so, "train_text",
                 "safetensors with input_ids [B,N], labels [B], optional attention_mask, "
                 "token_type_ids");
  args.add("--config", &to.config, "FILE", "Hugging Face config.json (model_type bert or roberta)");
  args.add("--num-labels", &to.num_labels, "N", "classifier outputs; 0 = the config's");
  return run_command(args, arguments, out, err, [&] {
    if (to.config.empty() || so.batch.empty() || so.out.empty())
      throw UsageError("--config, --batch and --out are required");
    if (to.num_labels < 0) throw UsageError("--num-labels must be >= 0");
    check_step_options(so, me, args);
    return run(me, so, to, out);
  });
}

}  // namespace neat
