#include "train/train_text_app.h"

#include <algorithm>
#include <memory>

#include "data/glue.h"
#include "data/wordnet.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "tensor/safetensors.h"
#include "train/options.h"
#include "train/run_directory.h"
#include "train/run_support.h"
#include "train/system.h"
#include "train/text_batches.h"
#include "train/text_model.h"
#include "train/trainer.h"

namespace neat {

namespace {

struct TextOptions {
  std::string task = "wordnet-nouns";
  int64_t max_len = 64;
  int64_t eval_limit = 0;
};

struct Options {
  TextOptions text;
  MethodOptions method;
  TrainOptions train;
};

std::vector<std::string> task_names() {
  std::vector<std::string> names = {"wordnet-nouns", "wordnet-verbs"};
  for (const std::string& t : glue_task_names()) names.push_back("glue-" + t);
  return names;
}

TextDataset load_task(const Options& o) {
  const std::string& task = o.text.task;
  if (task.rfind("wordnet-", 0) == 0) {
    const std::string dir = o.train.data_dir.empty() ? "/usr/share/wordnet" : o.train.data_dir;
    return wordnet_supersenses(task == "wordnet-nouns" ? "noun" : "verb", uint64_t(o.train.seed), dir);
  }
  const std::string name = task.substr(5);
  const std::string root = o.train.data_dir.empty() ? "data/glue" : o.train.data_dir;
  TextDataset d = read_glue(name, root + "/" + glue_folder(name));
  NEAT_CHECK(!d.regression, "--task ", task, ": a regression task; train_text trains "
             "classifiers only");
  // GLUE's test labels are private: the dev set is where a run is scored.
  d.test = d.validation;
  return d;
}

// The first `limit` examples (all when limit is 0).
std::vector<TextExample> first(const std::vector<TextExample>& all, int64_t limit) {
  if (limit <= 0 || limit >= int64_t(all.size())) return all;
  return {all.begin(), all.begin() + limit};
}

// The model's predicted class for every example of a split, in order.
std::vector<int64_t> predict(BertForSequenceClassification& model, TextBatches& data) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  std::vector<int64_t> out;
  data.start_epoch(0);
  Tensor labels;
  int64_t step = 0;
  while (data.next(labels, step)) {
    const Tensor logits = data.logits().data();
    for (int64_t b = 0; b < logits.size(0); ++b) {
      int64_t best = 0;
      for (int64_t c = 1; c < logits.size(1); ++c)
        if (logits.at({b, c}) > logits.at({b, best})) best = c;
      out.push_back(best);
    }
  }
  model.train(was_training);
  return out;
}

int execute(const Options& o, const ArgParser& args, bool resuming, std::ostream& out,
            std::ostream& err) {
  const TrainOptions& t = o.train;
  const ScopedThreads threads(t.threads);
  Progress progress(err, stderr_is_terminal(), t.quiet, t.log_every);

  TextDataset data = load_task(o);
  const std::vector<TextExample> train_set = first(data.train, t.train_limit);
  const std::vector<TextExample> val_set = first(data.validation, o.text.eval_limit);
  const std::vector<TextExample> test_set = first(data.test, o.text.eval_limit);
  progress.line("data: " + data.name + ", " + std::to_string(data.num_labels()) + " classes, " +
                std::to_string(train_set.size()) + " train / " + std::to_string(val_set.size()) +
                " val / " + std::to_string(test_set.size()) + " test examples, max-len " +
                std::to_string(o.text.max_len));

  std::string weights = t.weights.empty() ? default_minilm_dir() : t.weights;
  if (file_exists(weights) && weights.size() > 12 &&
      weights.substr(weights.size() - 12) == ".safetensors")
    weights = weights.substr(0, std::max<size_t>(weights.rfind('/'), 1));
  PretrainedText pretrained = load_pretrained_text(weights, data.num_labels(), uint64_t(t.seed));
  BertForSequenceClassification& model = *pretrained.model;
  progress.line("model: " + pretrained.config.str() + " from " + weights);
  progress.line("weights: " + std::to_string(pretrained.report.loaded) + " tensors");
  for (const std::string& m : pretrained.report.messages) progress.line("  " + m);

  const PeftConfig peft = seeded_peft_config(o.method, uint64_t(t.seed), model.shared_generator());
  const PeftReport report = attach_peft(model, peft);
  progress.line("method: " + report.str());
  if (!t.adapter.empty()) {
    load_adapter(t.adapter, model, peft);
    progress.line("adapter: loaded " + t.adapter);
  }
  AdamW optimizer(parameter_groups(model, t));

  const Tokenizer& tokenizer = *pretrained.tokenizer;
  TextBatches train_batches(model, tokenizer, train_set, o.text.max_len, t.batch_size, true,
                            uint64_t(t.seed));
  std::unique_ptr<TextBatches> val_batches;
  if (!val_set.empty())
    val_batches = std::make_unique<TextBatches>(model, tokenizer, val_set, o.text.max_len,
                                                t.batch_size, false, 0);
  TextBatches test_batches(model, tokenizer, test_set, o.text.max_len, t.batch_size, false, 0);

  const std::string& dir = t.out;
  make_directories(dir);
  const RunLock lock(dir);   // one run writes a directory at a time (train/run_directory.h)
  const std::string title = o.method.method + " on " + o.text.task + " (" + dir + ")";
  TrainState state;
  TrainRun run;
  const int code = train_with_flags("train_text", t, dir, args.values(), resuming, title, model,
                                    model.generator(), optimizer, train_batches,
                                    val_batches.get(), progress, err, state, run);
  if (code != 0) return code;
  const double train_seconds = run.train_seconds;

  std::vector<int64_t> gold;
  for (const TextExample& e : test_set) gold.push_back(e.label);
  const TextScores scores = score_classes(data.metric, predict(model, test_batches), gold);
  Json results = Json::object();
  results.set("task", o.text.task);
  results.set("test_accuracy", scores.accuracy);
  results.set("test_metric", scores.main);
  results.set("test_scores", scores.str());
  Json val_accuracy = Json::array();
  for (const EpochRecord& e : state.history.epochs)
    val_accuracy.push_back(e.val_acc >= 0 ? Json(e.val_acc) : Json());
  results.set("val_accuracy", val_accuracy);
  set_run_fields(results, report, state, train_seconds, "examples_per_second", args.values());
  results.set("model", pretrained.config.str());
  results.set("method", report.str());
  write_file_atomic(join_path(dir, "results.json"), results.dump(2) + "\n");
  save_adapter(join_path(dir, "adapter.safetensors"), model, peft);
  if (t.merge) {
    merge_peft_layers(model);
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto& [name, p] : model.named_parameters()) tensors.emplace_back(name, p.data());
    write_safetensors(join_path(dir, "model.safetensors"), tensors);
  }
  const int64_t correct = int64_t(scores.accuracy * double(gold.size()) + 0.5);
  out << "test " << scores.str() << " (" << correct << "/" << gold.size() << ")  "
      << o.method.method << ": trainable " << report.trainable << " / " << report.total << " ("
      << percent(report.ratio()) << ")  " << fixed(train_seconds, 1) << " s  -> " << dir << "\n";
  return 0;
}

}  // namespace

int train_text_main(const std::vector<std::string>& arguments, std::ostream& out,
                    std::ostream& err) {
  Options o;
  o.train.batch_size = 32;
  o.train.epochs = 3;
  ArgParser args("train_text", "[--method neat|lora|head|full] [--task NAME] [options]",
                 "Fine-tune a pretrained BERT / RoBERTa encoder (a Hugging Face model directory, "
                 "default all-MiniLM-L6-v2 from make deps) on a text classification task.");
  args.section("Data");
  std::string tasks;
  for (const std::string& n : task_names()) tasks += (tasks.empty() ? "" : ", ") + n;
  args.add("--task", &o.text.task, "NAME",
           "wordnet-nouns / wordnet-verbs (supersense of a WordNet definition, from "
           "/usr/share/wordnet) or glue-TASK (scripts/get_data.sh glue TASK)", task_names());
  args.add("--data-dir", &o.train.data_dir, "DIR",
           "WordNet's dict directory, or the GLUE root holding <TASK>/ (default data/glue)");
  args.add("--train-limit", &o.train.train_limit, "N", "use the first N training examples; 0 = all");
  args.add("--eval-limit", &o.text.eval_limit, "N",
           "use the first N validation and test examples; 0 = all");
  args.add("--max-len", &o.text.max_len, "N", "tokens per example, special tokens included");
  add_method_flags(args, o.method);
  add_run_flags(args, o.train);
  try {
    try {
      args.parse(arguments);
      if (args.help_requested()) {
        out << args.help() << "\n--weights is a model directory (config.json, model.safetensors, "
                              "vocab.txt) or its model.safetensors; default "
            << default_minilm_dir() << "\n";
        return 0;
      }
      const bool resuming = !o.train.resume.empty();
      if (resuming) {
        const std::string path = join_path(o.train.resume, "checkpoint.safetensors");
        NEAT_CHECK(file_exists(path), "--resume ", o.train.resume, ": no checkpoint at ", path);
        args.restore(resumable_config(read_checkpoint_state(path).config), kResumeFreeFlags);
        o.train.out = o.train.resume;
      }
      check_run_options(o.train);
      if (o.text.max_len < 8 || o.text.max_len > 512)
        throw UsageError("--max-len must be in [8, 512], got " + std::to_string(o.text.max_len));
      if (o.text.eval_limit < 0) throw UsageError("--eval-limit must be >= 0");
      peft_config_from(o.method);
      if (o.train.out.empty())
        o.train.out = "runs/" + o.method.method + "-" + o.text.task + "-" + timestamp();
      return execute(o, args, resuming, out, err);
    } catch (const UsageError& e) {
      err << "train_text: " << e.what() << "\n" << args.usage() << "\n";
      return 2;
    }
  } catch (const std::exception& e) {
    err << "train_text: error: " << one_line(e.what()) << "\n";
    return 1;
  }
}

}  // namespace neat
