#include "train/run_skeleton.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <memory>

#include "nn/peft/adapter_file.h"
#include "nn/peft/peft_format.h"
#include "tensor/safetensors.h"
#include "train/checkpoint.h"
#include "train/command.h"
#include "train/distributed.h"
#include "train/distributed_run.h"
#include "train/precision.h"
#include "train/predict_model.h"
#include "train/run_directory.h"
#include "train/run_support.h"
#include "train/system.h"
#include "train/weights_check.h"

namespace neat {

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// --resume DIR: this program's run only; its flags become this invocation's.
void restore_run(TrainingProgram& p) {
  TrainOptions& t = p.train();
  const std::string path = join_path(t.resume, "checkpoint.safetensors");
  NEAT_CHECK(file_exists(path), "--resume ", t.resume, ": no checkpoint at ", path);
  const std::string owner = run_program_of(t.resume);
  require(owner.empty() || owner == p.name(),
          "--resume " + t.resume + " is a " + owner + " run: continue it with " + owner +
              " --resume " + t.resume);
  p.arguments().restore(resumable_config(read_checkpoint_state(path).config), kResumeFreeFlags);
  t.out = t.resume;
}

// The flags every program shares and their combinations.
void check_shared_flags(TrainingProgram& p) {
  TrainOptions& t = p.train();
  check_run_options(t);
  // Stored absolute, so the run resumes and predicts from any working directory, moved or not.
  t.weights = absolute_path(t.weights);
  t.adapter = absolute_path(t.adapter);
  peft_config_from(p.method());
  const bool has_model = !t.weights.empty() || !t.adapter.empty() || !t.resume.empty();
  require(!t.eval_only || has_model,
          "--eval-only needs --weights, --adapter or --resume (nothing to evaluate)");
  require(t.predict.empty() || has_model,
          "--predict needs --weights, --adapter or --resume (a trained model to predict with)");
  require(!t.merge || p.method().method != "adapter",
          "--merge: --method adapter (Houlsby bottlenecks, nonlinear) has no merged form; leave "
          "out --merge, or choose a method that merges (lora, dora, vera, fourierft, neat, ...)");
}

// --out: not a file, and not a run already (unless --overwrite); a resumed run writes its own.
void check_out_dir(TrainingProgram& p, bool resuming) {
  const TrainOptions& t = p.train();
  if (t.out.empty() || resuming || !t.predict.empty()) return;
  require(!file_exists(t.out) || is_directory(t.out),
          "--out " + t.out + " is a file, not a directory");
  const std::vector<std::string> files = run_files_in(t.out);
  if (files.empty() || t.overwrite) return;
  const std::string owner = run_program_of(t.out);
  const std::string program = owner.empty() ? p.name() : owner;
  throw UsageError("--out " + t.out + " already holds a" + (owner.empty() ? "" : " " + owner) +
                   " run (" + join(files) + "): continue it with " + program + " --resume " +
                   t.out + ", replace it with --overwrite, or choose another --out");
}

// Everything about the command line, before any data is read.
void check_command_line(TrainingProgram& p, bool resuming, std::ostream& err) {
  p.check_flags();
  take_adapter_settings(p.train().adapter, p.arguments());   // the adapter's method, as peft's
  check_shared_flags(p);
  check_out_dir(p, resuming);
  const TrainOptions& t = p.train();
  NEAT_CHECK(t.adapter.empty() || file_exists(t.adapter), "--adapter ", t.adapter,
             ": no such file");
  p.check_files(err);
  for (const std::string& warning : ignored_flag_warnings(p.method(), t, p.arguments()))
    err << "warning: " << warning << "\n";
}

// The run directory, locked for the object's lifetime: --out, or a new unique name. The other
// ranks of a data-parallel run get a scratch directory instead (train/distributed_run.h).
struct RunDirectory {
  std::string path;
  std::unique_ptr<RunLock> lock;
  std::unique_ptr<ScratchDirectory> scratch;
};

RunDirectory open_run_directory(TrainingProgram& p, bool resuming, Progress& progress) {
  const TrainOptions& t = p.train();
  RunDirectory dir;
  if (world().rank() != 0) {
    dir.scratch = std::make_unique<ScratchDirectory>(resuming ? t.out : "");
    dir.path = dir.scratch->path();
    return dir;
  }
  if (t.out.empty()) {
    std::string data = p.data_name();
    data = data.substr(0, data.find(':'));   // folder:PATH -> folder
    dir.path = create_unique_directory("runs/" + p.method().method + "-" + data + "-" +
                                       timestamp());
  } else {
    dir.path = t.out;
    make_directories(dir.path);
  }
  dir.lock = std::make_unique<RunLock>(dir.path);
  if (!resuming) {
    check_out_dir(p, resuming);   // again, under the lock: another run may have finished here
    if (t.overwrite) remove_run_files(dir.path);
  }
  if (const int stale = remove_stale_temp_files(dir.path))
    progress.line("removed " + std::to_string(stale) +
                  " temporary file(s) left by a killed run in " + dir.path);
  return dir;
}

Json names_json(const std::vector<std::string>& names) {
  Json list = Json::array();
  for (const std::string& name : names) list.push_back(name);
  return list;
}

// results.json (eval.json with --eval-only): the test figures, the history, the run's fields.
void write_results(TrainingProgram& p, const std::string& dir, const TrainState& state,
                   const TrainRun& run, const TestResult& test, const std::string& error) {
  Json results = test.fields;
  results.set("program", p.name());
  Json val_accuracy = Json::array();
  double best_val = -1;
  for (const EpochRecord& e : state.history.epochs) {
    val_accuracy.push_back(e.val_acc >= 0 ? Json(e.val_acc) : Json());   // null: no val set
    best_val = std::max(best_val, e.val_acc);
  }
  results.set("best_val_accuracy", best_val >= 0 ? Json(best_val) : Json());
  results.set("val_accuracy", val_accuracy);
  set_run_fields(results, p.report(), state, run.train_seconds, p.rate_key(),
                 p.arguments().values());
  p.results_fields(results);
  if (!p.class_names().empty()) results.set("class_names", names_json(p.class_names()));
  if (!error.empty()) results.set("error", error);
  const bool eval_only = p.train().eval_only;
  write_file_atomic(join_path(dir, eval_only ? "eval.json" : "results.json"),
                    results.dump(2) + "\n");
}

// The adapter (with the class names in its metadata), peft/ for the methods peft has, the
// model's config.json (what --predict reads), and with --merge the merged model.
void write_model_files(TrainingProgram& p, const std::string& dir) {
  const TrainOptions& t = p.train();
  const Json config = p.model_config();
  if (!config.is_null() && (!t.eval_only || t.merge))
    write_file_atomic(join_path(dir, "config.json"), config.dump(2) + "\n");
  if (!t.eval_only) {
    const std::string path = join_path(dir, "adapter.safetensors");
    save_adapter(path, p.model(), p.peft());
    SafetensorsFile adapter = read_safetensors(path);
    if (!p.class_names().empty()) {   // a causal LM has none
      adapter.metadata["class_names"] = names_json(p.class_names()).dump();
      write_safetensors(path, adapter.tensors, adapter.metadata);
    }
    if (has_peft_layout(p.peft().method)) save_peft_adapter(join_path(dir, "peft"), p.model(), p.peft());
  }
  if (t.merge) {
    merge_in_float32(p.model(), merged_dtype(t.merge_dtype, t.weights));   // train/precision.h
    p.write_merged(dir);
  }
}

// Why the trained model cannot be trusted, "" when it can: a non-finite loss during training,
// non-finite weights after it, or a non-finite test loss.
std::string non_finite_problem(TrainingProgram& p, const TrainState& state, const TrainRun& run,
                               const TestResult& test) {
  if (!run.non_finite.empty()) return run.non_finite;
  const NonFiniteParameter bad = first_non_finite_parameter(p.model(), /*trainable_only=*/true);
  if (bad.count > 0)
    return "the weights are not finite after step " + std::to_string(state.step) + " ('" +
           bad.name + "' holds " + std::to_string(bad.count) + " NaN or Inf of " +
           std::to_string(bad.numel) + "); try a lower learning rate";
  if (!std::isfinite(test.loss))
    return "the test loss is " + std::string(std::isnan(test.loss) ? "NaN" : "infinite") +
           " after step " + std::to_string(state.step) +
           " (the weights overflow in the forward pass); try a lower learning rate";
  return "";
}

// After training (or with --eval-only): test, files, the result line.
int finish_run(TrainingProgram& p, const std::string& dir, const TrainState& state,
               const TrainRun& run, Progress& progress, std::ostream& out, std::ostream& err) {
  const TestResult test = p.test(progress);
  if (test.interrupted) {
    const bool saved = file_exists(join_path(dir, "checkpoint.safetensors")) && !run.checkpoint_failed;
    err << p.name() << ": " << (stop_signal() == SIGINT ? "interrupted (SIGINT)" : "terminated")
        << " during the test evaluation"
        << (saved ? "; the trained model is in the checkpoint: evaluate it with " + p.name() +
                        " --resume " + dir + " --eval-only"
                  : "")
        << "\n";
    return 128 + stop_signal();
  }
  const std::string problem = non_finite_problem(p, state, run, test);
  if (world().rank() == 0) {   // the other ranks of a data-parallel run write nothing
    write_results(p, dir, state, run, test, problem);
    write_model_files(p, dir);
  }
  const PeftReport& report = p.report();
  const TrainOptions& t = p.train();
  if (t.eval_only)   // nothing trained: say which model was scored
    out << test.line << "  eval only, nothing trained: "
        << (!t.resume.empty() ? "the run in " + t.resume
            : t.weights + (t.adapter.empty() ? "" : " with the adapter " + t.adapter))
        << "  -> " << dir << "\n";
  else
    out << test.line << "  " << p.method().method << ": trainable " << report.trainable << " / "
        << report.total << " (" << percent(report.ratio()) << ")  " << fixed(run.train_seconds, 1)
        << " s  -> " << dir << "\n";
  if (problem.empty()) return 0;
  err << p.name() << ": error: " << problem << "; results.json and the adapter in " << dir
      << " hold the run as it ended";
  const std::string checkpoint = join_path(dir, "checkpoint.safetensors");
  if (!run.non_finite.empty() && file_exists(checkpoint))
    err << ", the last good checkpoint (step " << read_checkpoint_state(checkpoint).step
        << ") is kept there";
  err << "\n";
  return 1;
}

// stage: what the run is doing, for an out-of-memory message.
int run_program(TrainingProgram& p, bool resuming, std::string& stage, std::ostream& out,
                std::ostream& err) {
  const TrainOptions& t = p.train();
  const ScopedThreads threads(t.threads);
  Progress progress(err, stderr_is_terminal(), t.quiet, t.log_every);
  stage = t.predict.empty() ? "reading the data (" + p.data_name() + ") and building the model"
                            : "building the model";
  p.build(progress, resuming);
  stage = t.predict.empty() ? "training" : "predicting";
  AdamW optimizer(parameter_groups(p.model(), t));
  if (!t.predict.empty()) {
    if (resuming) load_checkpoint(join_path(t.out, "checkpoint.safetensors"), p.model(), optimizer);
    p.predict(t.predict, out);
    return 0;
  }
  const RunDirectory dir = open_run_directory(p, resuming, progress);
  TrainState state;
  state.program = p.name();
  TrainRun run;
  const std::string title = p.method().method + " on " + p.data_name() + " (" + dir.path + ")";
  const TrainPlan plan{p.name(), dir.path, title, p.arguments().values(), resuming};
  const int code = train_with_flags(plan, t, p.model(), p.dropout(), optimizer, p.train_batches(),
                                    p.val_batches(), progress, err, state, run);
  if (code != 0) return code;
  stage = "evaluating the test split";
  return finish_run(p, dir.path, state, run, progress, out, err);
}

}  // namespace

int run_training_program(TrainingProgram& program, const std::vector<std::string>& arguments,
                         std::ostream& all_out, std::ostream& all_err) {
  std::ostream& out = rank_zero_only(all_out);   // ranks 1.. of a data-parallel run print nothing
  std::ostream& err = rank_zero_only(all_err);
  std::string stage;
  auto memory_hint = [&] {
    const std::string model = program.memory_hint();
    return stage.empty() ? model : "while " + stage + (model.empty() ? "" : "; " + model);
  };
  return run_command(
      program.arguments(), arguments, out, err,
      ending_all_ranks_on_error(program.name(), [&] {
        const bool resuming = !program.train().resume.empty();
        if (resuming) restore_run(program);
        check_command_line(program, resuming, err);
        if (program.answer_query(out)) return 0;
        return run_program(program, resuming, stage, out, err);
      }),
      program.help_note(), memory_hint);
}

}  // namespace neat
