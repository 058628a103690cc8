// Small pieces every training program (train_vit, train_text) shares: output files, the
// optimizer's parameter groups, merging adapters, number formatting.
#pragma once
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/peft/attach.h"
#include "train/history.h"
#include "train/optimizer.h"
#include "train/options.h"
#include "train/trainer.h"

namespace neat {

struct SafetensorsFile;

// Flags that may differ between a run and its --resume (they do not change what is computed):
// given again, the new value counts; left out, the run's saved value does.
extern const std::vector<std::string> kResumeFreeFlags;
// A run's saved config without the flags about one invocation only (--resume, --eval-only,
// --max-steps, --overwrite, --predict, --profile, --tokenize), which are never taken from the
// resumed run.
Json resumable_config(const Json& saved);

// The device of --device NAME ("cpu" or "cuda"), with TF32 GEMMs set as --tf32 asks. For cuda
// without a usable GPU: one line saying why (no CUDA backend in this build, or no GPU visible).
Device compute_device(const std::string& name, bool tf32);

std::string one_line(std::string text);   // newlines become spaces (one-line error messages)
std::string join_path(const std::string& dir, const std::string& file);
// log.csv and curves.svg of a run, written atomically.
void write_log_files(const std::string& dir, const std::string& title, const History& history);
// Trainable parameters in two AdamW groups: the classifier ("head", every name starting with
// "classifier.") and everything else that trains ("backbone": the adapters, or the whole
// backbone for --method full).
std::vector<ParamGroup> parameter_groups(const Module& model, const TrainOptions& options);
// The adapter config of the method flags with its seeds derived from the run's seed (Neat's
// init: stream 1, LoRA's: stream 2) and LoRA dropout drawing from the model's stream.
PeftConfig seeded_peft_config(const MethodOptions& method, uint64_t seed,
                              std::shared_ptr<Generator> dropout);
// A step program's --adapter: a file a training program wrote (metadata "format":
// "neat-adapter") or peft's directory, loaded whole (its settings must be peft's), or any
// subset of the trainable tensors by name (load_trainable). Returns the tensors in the file.
int64_t load_step_adapter(const std::string& path, Module& model, const PeftConfig& peft);
// What a step program writes: logits, loss and grad.<name> of every trainable parameter (an
// error names a parameter no gradient reached; program prefixes it).
std::vector<std::pair<std::string, Tensor>> step_tensors(const std::string& program,
                                                         const Module& model,
                                                         const Variable& logits,
                                                         const Variable& loss);
// Copies a file's tensors into the model's trainable parameters of the same name (absent ones
// keep their init); a tensor that names no trainable parameter, or has another shape, is an
// error naming it and file.path. Returns the tensors copied.
int64_t load_trainable(Module& model, const SafetensorsFile& file);
// What train_with_flags reports besides its exit code.
struct TrainRun {
  double train_seconds = 0;        // the training wall time, resumed sessions included
  bool checkpoint_failed = false;  // the last checkpoint could not be written (warned on err)
  std::string non_finite;          // why training stopped on a NaN / inf, naming the step
};
// A run as train_with_flags needs it: who trains it, where, and its flags.
struct TrainPlan {
  std::string program;   // "train_vit": messages say how to continue with it
  std::string dir;       // the run directory, created and locked by the caller
  std::string title;     // of curves.svg
  Json config;           // every flag's value, recorded in the checkpoints
  bool resuming = false;
};
// The training part of a program run in plan.dir: resumes from its checkpoint.safetensors when
// resuming, then (unless --eval-only) prints the run's size and, after a few steps, a measured
// estimate of the steps this invocation runs, and trains with the flags' settings (checkpoints
// there, log.csv and curves.svg with each checkpoint and epoch; a checkpoint that cannot be
// written is a warning), recording config in the state. Returns 0 to go on to the test
// (finished, stopped by --max-steps, or stopped by a non-finite loss: run.non_finite says why);
// when interrupted prints why on err, prefixed "program: ", and returns 128 + signal
// (checkpoint saved). Another error is rethrown after a checkpoint of the last finished step,
// its message saying how to resume.
int train_with_flags(const TrainPlan& plan, const TrainOptions& t, Module& model,
                     Generator& dropout, AdamW& optimizer, ClassifierBatches& train,
                     ClassifierBatches* val, Progress& progress, std::ostream& err,
                     TrainState& state, TrainRun& run);
// The results.json fields every training program shares: parameter counts, steps, the
// training wall time and throughput (under rate_key: "images_per_second" for images,
// "examples_per_second" for text), peak RSS and every flag's value.
void set_run_fields(Json& results, const PeftReport& report, const TrainState& state,
                    double train_seconds, const std::string& rate_key, const Json& config);

std::string percent(double fraction);        // "4.00%"
std::string fixed(double x, int digits);     // printf %.*f

}  // namespace neat
