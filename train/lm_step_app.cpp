#include "train/lm_step_app.h"

#include <memory>

#include "models/llama.h"
#include "nn/peft/attach.h"
#include "tensor/safetensors.h"
#include "train/command.h"
#include "train/lm_model.h"
#include "train/options.h"
#include "train/run_support.h"
#include "train/step_tool.h"
#include "train/system.h"
#include "train/train_lm_app.h"

namespace neat {

namespace {

// The int64 [B, N] tensor `name` of the batch file (shape: that of input_ids, or empty for
// input_ids itself), or undefined when absent and optional.
Tensor batch_ids(const SafetensorsFile& batch, const char* name, const Shape& shape, bool required) {
  if (!required && !batch.contains(name)) return Tensor();
  NEAT_CHECK(batch.contains(name), "--batch ", batch.path, ": no tensor '", name, "'");
  const Tensor& t = batch.get(name);
  NEAT_CHECK(t.dtype() == DType::Int64 && (shape.empty() ? t.dim() == 2 && t.numel() > 0 : t.shape() == shape),
             "--batch ", batch.path, ": ", name, " must be int64 ",
             shape.empty() ? std::string("[B, N] with B, N >= 1") : shape_str(shape), ", got ",
             dtype_name(t.dtype()), " ", shape_str(t.shape()));
  return t;
}

int run(MethodOptions& me, const StepOptions& so, std::ostream& out) {
  const ScopedThreads threads(so.threads);
  const SafetensorsFile batch = read_safetensors(so.batch);
  const Tensor ids = batch_ids(batch, "input_ids", {}, true);
  const Tensor labels = batch_ids(batch, "labels", ids.shape(), true);
  const Tensor mask = batch_ids(batch, "attention_mask", ids.shape(), false);
  const Tensor positions = batch_ids(batch, "position_ids", ids.shape(), false);

  // A directory needs no tokenizer here: config.json and the weights are the model.
  const std::shared_ptr<LlamaForCausalLM> loaded =
      is_directory(so.weights) ? load_llama(so.weights) : load_llama_model(so.weights, false, "--weights").model;
  LlamaForCausalLM& model = *loaded;
  const int64_t vocab = model.config().vocab_size;
  for (const Tensor* t : {&ids, &labels}) {
    const std::vector<int64_t> v = t->to_vector<int64_t>();
    for (int64_t id : v)
      NEAT_CHECK((id >= 0 && id < vocab) || (t == &labels && id == -100), "--batch ", so.batch,
                 ": ", t == &ids ? "input_ids" : "labels", " holds ", id, ", outside the vocab of ",
                 vocab, t == &labels ? " (and not -100)" : "");
  }
  // The step's dtype before the adapter is copied in, so float64 files keep every digit.
  model.to(step_dtype(so));
  // Eval mode: the dropout generator draws nothing.
  PeftConfig peft = seeded_peft_config(me, uint64_t(so.seed), std::make_shared<Generator>(uint64_t(so.seed)));
  peft.targets = llama_targets(peft.targets);
  peft.adapter_targets = {"self_attn.o_proj", "mlp.down_proj"};
  peft.classifier = "";
  const PeftReport report = attach_peft(model, peft);
  const int64_t from_adapter = so.adapter.empty() ? 0 : load_step_adapter(so.adapter, model, peft);
  apply_precision(model, step_precision(so, "cpu"));   // bf16: frozen weights stored in bf16

  model.eval();
  const Variable logits = model.forward(ids, mask, positions);
  const Variable loss = causal_lm_loss(logits, labels);
  loss.backward();
  write_step("lm_step", so, model, model.config().str(), report, logits, loss, from_adapter, {}, out);
  return 0;
}

}  // namespace

int lm_step_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err) {
  MethodOptions me;
  me.neat_targets = me.lora_targets = me.vera_targets = me.fourier_targets = kLlamaDefaultTargets;
  StepOptions so;
  ArgParser args("lm_step", "--weights FILE|DIR --batch FILE --out FILE [--adapter FILE|DIR] [options]",
                 "One forward and backward of a LLaMA-family causal LM with a method attached "
                 "(eval mode); writes logits, the causal-LM loss and the gradient of every "
                 "trainable parameter.");
  add_method_flags(args, me, {}, "adapted linears: a list of q, k, v, o, gate, up, down (or q_proj, ...)");
  add_step_flags(args, so, "train_lm",
                 "safetensors with input_ids [B,N], labels [B,N] (-100: not counted), optional "
                 "attention_mask and position_ids [B,N]");
  return run_command(args, arguments, out, err, [&] {
    if (so.weights.empty()) throw UsageError("--weights is required (a GGUF file or a Hugging Face directory)");
    check_step_options(so, me, args);
    return run(me, so, out);
  });
}

}  // namespace neat
