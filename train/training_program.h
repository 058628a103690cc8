// What a training program plugs into the run skeleton (train/run_skeleton.h): its flags, its
// model, its data and its metric. Everything else (flag checks before any data is read, the run
// directory, resume, the estimate, non-finite weights and losses, --predict, --eval-only,
// --merge, the adapter and peft/ export, exit codes) is the skeleton's, written once and tested
// against every program by tests/test_run_skeleton.cpp.
//
//   class MyProgram : public TrainingProgram { ... };        // train/train_vit_app.cpp is one
//   MyProgram program;
//   return run_training_program(program, arguments, out, err);
//
// train_lm fits the same interface: its metric is the task accuracy (TestResult's
// test_accuracy) and it has no class names.
//
// The skeleton calls, in order: arguments() (parse; --resume restores the run's flags),
// check_flags(), check_files(), answer_query() (done when it answers), build(), then either
// predict() or training on train_batches() / val_batches(), test(), results_fields(),
// class_names(), model_config() and, with --merge, write_merged(). With --predict, build() reads
// no data: the model's config.json (find_predict_model) gives its sizes and classes.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "train/args.h"
#include "train/options.h"
#include "train/progress.h"
#include "train/trainer.h"

namespace neat {

// A program's figures on its test split.
struct TestResult {
  Json fields = Json::object();   // into results.json: "test_accuracy", "test_loss", ...
  std::string line;               // the result line's start: "test accuracy 0.9100 (91/100)"
  double loss = 0;                // a non-finite loss ends the run with an error (files written)
  bool interrupted = false;       // a stop signal cut it short
};

class TrainingProgram {
 public:
  virtual ~TrainingProgram() = default;

  // ---- flags: no file is read ----
  virtual std::string name() const = 0;   // "train_vit": messages, and the owner of its runs
  // Every flag, bound to options the program holds (method() and train() among them).
  virtual ArgParser& arguments() = 0;
  virtual MethodOptions& method() = 0;
  virtual TrainOptions& train() = 0;
  virtual std::string help_note() const { return ""; }   // printed after --help's flags
  // The program's own flags and their combinations (UsageError naming the flag); may make
  // values independent of the working directory (a relative data path made absolute).
  virtual void check_flags() = 0;
  // Files named on the command line, checked before the data is read; warnings on err.
  virtual void check_files(std::ostream& err) = 0;
  // A query of the program's own that needs no data or training (train_text --tokenize):
  // prints its answer on out and returns true; false when the command line asks none.
  virtual bool answer_query(std::ostream& out) { return false; }
  // What the data is, for the run's title and default name ("cifar10", "wordnet-nouns").
  virtual std::string data_name() const = 0;

  // ---- model and data ----
  // Reads the data and builds the model: weights loaded, method attached, --adapter loaded,
  // on its device; progress lines on progress. resuming: the checkpoint is loaded after.
  virtual void build(Progress& progress, bool resuming) = 0;
  virtual Module& model() = 0;
  virtual Generator& dropout() = 0;     // the stream the model's dropouts draw from
  virtual const PeftConfig& peft() const = 0;
  virtual const PeftReport& report() const = 0;
  // The batches the trainer takes (train/trainer.h's ClassifierBatches: a classifier's, or a
  // causal LM's, train/lm_batches.h).
  virtual ClassifierBatches& train_batches() = 0;
  virtual ClassifierBatches* val_batches() = 0;   // null: no validation split
  // "Out of memory" explained with the model's sizes ("" when there is nothing to add).
  virtual std::string memory_hint() const { return ""; }

  // ---- metric and outputs ----
  virtual TestResult test(Progress& progress) = 0;
  // Prints the top classes, by name, of each input (--predict); no file is written.
  virtual void predict(const std::vector<std::string>& inputs, std::ostream& out) = 0;
  // results.json's program fields besides the test figures (model, data, method, device).
  virtual void results_fields(Json& results) const = 0;
  // The classes by index (results.json's class_names, the adapter's metadata); empty: none
  // (a causal LM, whose metric is its task's accuracy).
  virtual std::vector<std::string> class_names() const = 0;
  // The model's config.json (Hugging Face's: its sizes and id2label), written into every
  // finished run and beside --merge's model; --predict builds the model from it, never from the
  // data (train/predict_model.h). Null: the program writes none.
  virtual Json model_config() const { return Json(); }
  virtual std::string rate_key() const = 0;   // "images_per_second", "examples_per_second"
  // --merge, after the adapters are merged: dir/model.safetensors (and what else the model
  // needs beside model_config()'s config.json) that transformers' from_pretrained(dir) opens.
  virtual void write_merged(const std::string& dir) = 0;
};

}  // namespace neat
