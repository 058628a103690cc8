#include "train/train_lm_app.h"

#include <algorithm>
#include <memory>

#include "data/dataset.h"
#include "data/lm_tasks.h"
#include "models/generation.h"
#include "nn/peft/adapter_file.h"
#include "tensor/safetensors.h"
#include "data/lm_prompt.h"
#include "train/lm_batches.h"
#include "train/lm_evaluation.h"
#include "train/lm_model.h"
#include "train/predict_model.h"
#include "train/run_skeleton.h"
#include "train/precision.h"
#include "train/run_support.h"
#include "train/system.h"

namespace neat {

namespace {

const char* kDefaultWeights = "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

struct LmOptions {
  std::string task = "arc_easy";
  std::string train_data, test_data;   // default: lm_task_path(--data-dir, task, split)
  int64_t test_items = 0;
  std::string eval = "auto";           // likelihood | generation | auto (by the task)
  std::string format = "llm-adapters"; // llm-adapters | cloze (data/lm_prompt.h's LmFormat)
  int64_t max_len = 256;
  int64_t max_new_tokens = 0;          // 0: 32, or 256 for gsm8k
  bool packing = false, recompute = false;
};

// The first `limit` items (all when limit is 0).
std::vector<LmTaskItem> first(std::vector<LmTaskItem> items, int64_t limit) {
  if (limit > 0 && limit < int64_t(items.size())) items.resize(size_t(limit));
  return items;
}

// `limit` items drawn without replacement by seed (all, in order, when limit is 0).
std::vector<LmTaskItem> sample(const std::vector<LmTaskItem>& items, int64_t limit, uint64_t seed) {
  if (limit <= 0 || limit >= int64_t(items.size())) return items;
  const std::vector<int64_t> order = random_permutation(int64_t(items.size()), seed);
  std::vector<LmTaskItem> out;
  for (int64_t i = 0; i < limit; ++i) out.push_back(items[size_t(order[size_t(i)])]);
  return out;
}

// train_lm's parts: a LLaMA-family decoder fine-tuned on a task's prompt / response pairs,
// scored by the task's accuracy.
class TrainLmProgram : public TrainingProgram {
 public:
  TrainLmProgram();
  std::string name() const override { return "train_lm"; }
  ArgParser& arguments() override { return args_; }
  MethodOptions& method() override { return method_; }
  TrainOptions& train() override { return train_; }
  std::string help_note() const override;
  std::string data_name() const override { return lm_.task; }
  void check_flags() override;
  void check_files(std::ostream& err) override;
  void build(Progress& progress, bool resuming) override;
  Module& model() override { return *model_; }
  Generator& dropout() override { return *dropout_; }
  const PeftConfig& peft() const override { return peft_; }
  const PeftReport& report() const override { return report_; }
  ClassifierBatches& train_batches() override { return *train_batches_; }
  ClassifierBatches* val_batches() override { return nullptr; }
  TestResult test(Progress& progress) override;
  void predict(const std::vector<std::string>& inputs, std::ostream& out) override;
  void results_fields(Json& results) const override;
  std::vector<std::string> class_names() const override { return {}; }
  Json model_config() const override;
  std::string rate_key() const override { return "examples_per_second"; }
  void write_merged(const std::string& dir) override;

 private:
  void build_model(Progress& progress);
  void read_data(Progress& progress);
  std::vector<LmExample> examples(const std::vector<LmTaskItem>& items) const;
  bool by_generation() const;
  LmFormat format() const { return parse_lm_format(lm_.format); }
  int64_t max_new_tokens() const;
  int64_t pad_id() const;

  LmOptions lm_;
  MethodOptions method_;
  TrainOptions train_;
  ArgParser args_;
  std::shared_ptr<LlamaForCausalLM> model_;
  std::unique_ptr<BPETokenizer> tokenizer_;
  std::shared_ptr<Generator> dropout_;
  PeftConfig peft_;
  PeftReport report_;
  std::vector<LmTaskItem> train_items_, test_items_;
  std::unique_ptr<LmBatches> train_batches_, test_batches_;
};

TrainLmProgram::TrainLmProgram()
    : args_("train_lm", "[--method neat|lora|dora|...] [--task NAME] [options]",
            "Fine-tune a LLaMA-family language model (a GGUF file or a Hugging Face directory, "
            "default SmolLM2-135M-Instruct from make deps) on a commonsense or math task in "
            "LLM-Adapters' prompt, the loss on the response only; score it on the task's test "
            "split.") {
  train_.weights = kDefaultWeights;
  train_.epochs = 3;
  train_.batch_size = 8;
  train_.head_lr = train_.backbone_lr = 3e-4;   // LLM-Adapters' LoRA learning rate
  train_.weight_decay = 0;
  train_.data_dir = "data";
  method_.neat_targets = method_.lora_targets = method_.vera_targets = method_.fourier_targets =
      kLlamaDefaultTargets;
  args_.section("Data");
  args_.add("--task", &lm_.task, "NAME",
            "the task (scripts/get_data.sh lm-tasks fetches them)", lm_task_names());
  args_.add("--data-dir", &train_.data_dir, "DIR", "where get_data.sh put lm/<task>/");
  args_.add("--train-data", &lm_.train_data, "FILE",
            "the training split (oe-eval requests.jsonl[.gz] or LLM-Adapters JSON); default "
            "DIR/lm/<task>/train.jsonl.gz");
  args_.add("--test-data", &lm_.test_data, "FILE", "the test split; default DIR/lm/<task>/test.jsonl.gz");
  args_.add("--train-items", &train_.train_limit, "N",
            "train on N items drawn by --seed; 0 = all");
  args_.add("--test-items", &lm_.test_items, "N", "score the first N test items; 0 = all");
  args_.add("--eval", &lm_.eval, "KIND",
            "likelihood (the choice of highest log-likelihood), generation (greedy, then the "
            "paper's answer extraction) or auto (generation for gsm8k)",
            {"auto", "likelihood", "generation"});
  args_.add("--format", &lm_.format, "FORMAT",
            "llm-adapters (the paper's: the options written out, the response \"the correct "
            "answer is answerN\") or cloze (lm-eval-harness's: \"Question: ...\\nAnswer:\", "
            "the response the option's text; --eval likelihood only)",
            lm_format_names());
  args_.add("--max-new-tokens", &lm_.max_new_tokens, "N",
            "tokens generated per item (--eval generation, --predict); 0 = 32, 256 for gsm8k");
  args_.add("--max-len", &lm_.max_len, "N", "tokens per training row (longer prompts lose their start)");
  args_.add_switch("--packing", &lm_.packing,
                   "concatenate examples into rows of --max-len tokens instead of padding each");
  args_.add_switch("--recompute", &lm_.recompute,
                   "recompute each decoder layer's activations in the backward pass (less memory, "
                   "about one more forward of time)");
  add_method_flags(args_, method_, {},
                   "adapted linears: a list of q, k, v, o, gate, up, down (or q_proj, ...)");
  add_run_flags(args_, train_, "INSTRUCTION...");
}

std::string TrainLmProgram::help_note() const {
  return std::string("\n--weights is a GGUF file or a Hugging Face directory (config.json, "
                     "model.safetensors, tokenizer.json); default ") + kDefaultWeights +
         "\n--predict takes instructions (or a file, one a line) and prints the response the "
         "model generates for each in the training prompt (--format cloze: \"Question: "
         "{instruction}\\nAnswer:\")\n";
}

void TrainLmProgram::check_flags() {
  if (lm_.max_len < 8 || lm_.max_len > 32768)
    throw UsageError("--max-len must be in [8, 32768], got " + std::to_string(lm_.max_len));
  if (lm_.test_items < 0) throw UsageError("--test-items must be >= 0");
  if (lm_.max_new_tokens < 0) throw UsageError("--max-new-tokens must be >= 0");
  if (lm_.task == "gsm8k" && lm_.eval == "likelihood")
    throw UsageError("--eval likelihood: gsm8k has no choices to score; use --eval generation");
  if (lm_.format == "cloze") {
    if (lm_.task == "gsm8k" || lm_.task == "winogrande")
      throw UsageError("--format cloze: " + lm_.task + (lm_.task == "gsm8k"
                           ? " has no choices to score"
                           : " is scored by partial evaluation in lm-eval, which the cloze "
                             "format does not do") + "; use --format llm-adapters");
    if (lm_.eval == "generation")
      throw UsageError("--format cloze scores by choice likelihood; --eval generation extracts "
                       "LLM-Adapters' answer words (use --format llm-adapters)");
  }
  if (train_.new_head) throw UsageError("--new-head: a causal LM has no classifier to re-initialise");
  const MethodOptions& m = method_;
  llama_targets(m.method == "vera" ? m.vera_targets : m.method == "fourierft" ? m.fourier_targets
                : m.method == "neat" ? m.neat_targets : m.lora_targets);
  if (lm_.train_data.empty()) lm_.train_data = lm_task_path(train_.data_dir, lm_.task, "train");
  if (lm_.test_data.empty()) lm_.test_data = lm_task_path(train_.data_dir, lm_.task, "test");
  lm_.train_data = absolute_path(lm_.train_data);
  lm_.test_data = absolute_path(lm_.test_data);
}

void TrainLmProgram::check_files(std::ostream&) {
  NEAT_CHECK(file_exists(train_.weights) || is_directory(train_.weights), "--weights ",
             train_.weights, ": no such file or directory (make deps fetches SmolLM2)");
  auto check = [&](const char* flag, const std::string& path) {
    NEAT_CHECK(file_exists(path), flag, " ", path, ": no such file (scripts/get_data.sh lm-tasks ",
               "extracts the tasks under data/lm/; gsm8k has no training split there)");
  };
  if (!train_.predict.empty()) return;
  check("--train-data", lm_.train_data);
  check("--test-data", lm_.test_data);
}

void TrainLmProgram::build_model(Progress& progress) {
  LoadedLlama loaded = load_llama_model(train_.weights, false, "--weights");
  model_ = loaded.model;
  tokenizer_ = std::move(loaded.tokenizer);
  progress.line("model: " + model_->config().str() + " from " + train_.weights);
  dropout_ = std::make_shared<Generator>(derive_seed(uint64_t(train_.seed), 5));
  peft_ = seeded_peft_config(method_, uint64_t(train_.seed), dropout_);
  peft_.targets = llama_targets(peft_.targets);
  peft_.adapter_targets = {"self_attn.o_proj", "mlp.down_proj"};
  // head: the output layer, which a tied model shares with the input embedding.
  peft_.classifier = method_.method != "head" ? "" : model_->lm_head ? "lm_head" : "model.embed_tokens";
  report_ = attach_peft(*model_, peft_);
  progress.line("method: " + report_.str());
  if (!train_.adapter.empty()) {
    load_adapter(train_.adapter, *model_, peft_);
    progress.line("adapter: loaded " + train_.adapter);
  }
  model_->model->set_recompute(lm_.recompute, dropout_.get());
  const Precision precision = parse_precision(train_.precision, train_.tf32);
  model_->to(compute_device(train_.device, precision == Precision::Tf32));
  const PrecisionReport converted = apply_precision(*model_, precision);   // train/precision.h
  if (converted.converted > 0) progress.line(converted.str());
}

std::vector<LmExample> TrainLmProgram::examples(const std::vector<LmTaskItem>& items) const {
  std::vector<LmExample> out;
  for (const LmTaskItem& item : items) {
    const LmTokens t = tokenize_lm_prompt(*tokenizer_, format_lm_prompt(item, format()));
    out.push_back({t.prompt, t.response});
  }
  return out;
}

void TrainLmProgram::read_data(Progress& progress) {
  const LmPacking packing = lm_.packing ? LmPacking::kPack : LmPacking::kPad;
  const std::vector<LmTaskItem> all = read_lm_task(lm_.task, lm_.train_data);
  train_items_ = sample(all, train_.train_limit, derive_seed(uint64_t(train_.seed), 6));
  train_batches_ = std::make_unique<LmBatches>(*model_, examples(train_items_), lm_.max_len,
                                               train_.batch_size, packing, true,
                                               uint64_t(train_.seed), pad_id());
  test_items_ = first(read_lm_task(lm_.task, lm_.test_data), lm_.test_items);
  NEAT_CHECK(!test_items_.empty(), "--test-data ", lm_.test_data, ": no items");
  test_batches_ = std::make_unique<LmBatches>(*model_, examples(test_items_), lm_.max_len,
                                              train_.batch_size, LmPacking::kPad, false, 0, pad_id());
  const LmBatches& t = *train_batches_;
  progress.line("data: " + lm_.task + ", " + std::to_string(train_items_.size()) + " of " +
                std::to_string(all.size()) + " train items in " + std::to_string(t.size()) +
                (lm_.packing ? " packed" : " padded") + " rows (" + std::to_string(t.tokens()) +
                " tokens, " + std::to_string(t.truncated()) + " cut to --max-len " +
                std::to_string(lm_.max_len) + "), " + std::to_string(test_items_.size()) +
                " test items");
}

void TrainLmProgram::build(Progress& progress, bool) {
  build_model(progress);
  if (train_.predict.empty()) read_data(progress);
}

bool TrainLmProgram::by_generation() const {
  return lm_.eval == "generation" || (lm_.eval == "auto" && lm_.task == "gsm8k");
}

int64_t TrainLmProgram::max_new_tokens() const {
  return lm_.max_new_tokens > 0 ? lm_.max_new_tokens : lm_.task == "gsm8k" ? 256 : 32;
}

int64_t TrainLmProgram::pad_id() const {
  const BPEVocab& v = tokenizer_->vocab();
  return v.pad >= 0 ? v.pad : v.eos >= 0 ? v.eos : 0;
}

// The task accuracy (the skeleton's test_accuracy), and the loss and teacher-forced accuracy
// of the test responses.
TestResult TrainLmProgram::test(Progress& progress) {
  const EvalResult forced = evaluate(*model_, *test_batches_, [&](int64_t done, int64_t total) {
    progress.eval("test loss", done, total);
  });
  TestResult r;
  r.interrupted = forced.interrupted;
  if (r.interrupted) return r;
  const bool generation = by_generation();
  const std::string kind = generation ? "generation" : "choice likelihood";
  progress.line("scoring " + std::to_string(test_items_.size()) + " test items by " + kind);
  const LmEvaluation e =
      generation ? evaluate_by_generation(*model_, *tokenizer_, test_items_, max_new_tokens(),
                                          train_.batch_size)
                 : evaluate_by_choice_likelihood(*model_, *tokenizer_, test_items_,
                                                 train_.batch_size, format());
  r.loss = forced.loss;
  r.fields.set("task", lm_.task);
  r.fields.set("eval", generation ? "generation" : "likelihood");
  r.fields.set("format", lm_.format);
  r.fields.set("test_accuracy", e.accuracy());
  r.fields.set("test_correct", e.correct);
  r.fields.set("test_items", e.total);
  if (!generation) r.fields.set("test_accuracy_norm", e.accuracy_norm());
  r.fields.set("test_loss", forced.loss);
  r.fields.set("test_teacher_forced_accuracy", forced.accuracy);
  r.fields.set("eval_seconds", e.seconds);
  r.line = "test accuracy " + fixed(e.accuracy(), 4) + " (" + std::to_string(e.correct) + "/" +
           std::to_string(e.total) + ", " + kind + ")";
  return r;
}

// Each instruction's response, generated greedily after the training prompt.
void TrainLmProgram::predict(const std::vector<std::string>& inputs, std::ostream& out) {
  std::vector<std::string> texts = inputs;
  if (inputs.size() == 1 && file_exists(inputs[0]) && !is_directory(inputs[0])) {
    texts.clear();   // a file: one instruction a line, empty lines skipped
    const std::string all = read_file(inputs[0]);
    for (size_t start = 0, end; start < all.size(); start = end + 1) {
      end = std::min(all.find('\n', start), all.size());
      if (end > start) texts.push_back(all.substr(start, end - start));
    }
    NEAT_CHECK(!texts.empty(), "--predict ", inputs[0], ": an empty file (one instruction a line)");
  }
  GenerationOptions o;
  o.max_new_tokens = max_new_tokens();
  if (tokenizer_->vocab().eos >= 0) o.stop_tokens.push_back(tokenizer_->vocab().eos);
  o.pad_token = pad_id();
  for (const std::string& text : texts) {
    LmTaskItem item;
    item.task = lm_.task;
    item.instruction = text;
    item.answer = "?";   // the template's response, which generation replaces
    item.query = "Question: " + text + "\nAnswer:";   // the cloze form's
    item.choices = {"?"};
    item.label = 0;
    const LmTokens t = tokenize_lm_prompt(*tokenizer_, format_lm_prompt(item, format()));
    const GenerationResult g = generate(*model_, {t.prompt}, o);
    out << text << ": " << one_line(tokenizer_->decode(g.tokens[0], /*skip_special=*/true)) << "\n";
  }
}

void TrainLmProgram::results_fields(Json& results) const {
  results.set("model", model_->config().str());
  results.set("weights", train_.weights);
  results.set("method", report_.str());
  results.set("data", lm_.task + ": " + std::to_string(train_items_.size()) + " train items, " +
                          std::to_string(test_items_.size()) + " test items");
}

// LlamaForCausalLM's config.json, with the tokenizer's bos and eos ids.
Json TrainLmProgram::model_config() const {
  Json config = llama_config_json(model_->config());
  const BPEVocab& v = tokenizer_->vocab();
  config.set("bos_token_id", v.bos >= 0 ? Json(v.bos) : Json());
  config.set("eos_token_id", v.eos >= 0 ? Json(v.eos) : Json());
  return config;
}

// model.safetensors (HF names, the adapters folded in) beside model_config(), which transformers'
// LlamaForCausalLM.from_pretrained(dir) opens; the tokenizer files of a --weights directory
// beside them (a GGUF's tokenizer stays in the GGUF).
void TrainLmProgram::write_merged(const std::string& dir) {
  std::map<std::string, Tensor> params;
  for (const auto& [name, p] : model_->named_parameters()) params[name] = p.data();
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const std::string& name : llama_parameter_names(model_->config()))
    tensors.emplace_back(name, params.at(name).to(Device::CPU));
  write_safetensors(join_path(dir, "model.safetensors"), tensors, {{"format", "pt"}});
  if (!is_directory(train_.weights)) return;
  for (const char* file : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json"})
    if (file_exists(join_path(train_.weights, file)))
      write_file_atomic(join_path(dir, file), read_file(join_path(train_.weights, file)));
}

}  // namespace

std::string llama_targets(const std::string& targets) {
  static const std::vector<std::string> kNames = {"q", "k", "v", "o", "gate", "up", "down"};
  const std::string list = targets == "qv" ? "q,v" : targets == "qvmlp" ? "q,v,gate,up,down" : targets;
  std::string out;
  size_t start = 0;
  for (size_t end; start <= list.size(); start = end + 1) {
    end = std::min(list.find(',', start), list.size());
    std::string item = list.substr(start, end - start);
    if (item.size() > 5 && item.compare(item.size() - 5, 5, "_proj") == 0)
      item = item.substr(0, item.size() - 5);
    if (std::find(kNames.begin(), kNames.end(), item) == kNames.end())
      throw UsageError("targets: '" + list.substr(start, end - start) + "' in '" + targets +
                       "' is not a LLaMA linear (q, k, v, o, gate, up, down, or q_proj, ...)");
    out += (out.empty() ? "" : ",") + item + "_proj";
  }
  return out;
}

int train_lm_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err) {
  TrainLmProgram program;
  return run_training_program(program, arguments, out, err);
}

}  // namespace neat
