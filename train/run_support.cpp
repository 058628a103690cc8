#include "train/run_support.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>

#include "data/dataset.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/lora.h"
#include "nn/peft/neat.h"
#include "tensor/gpu.h"
#include "tensor/safetensors.h"
#include "train/checkpoint.h"
#include "train/schedule.h"
#include "train/system.h"

namespace neat {

const std::vector<std::string> kResumeFreeFlags = {
    "--threads", "--workers", "--quiet", "--log-every", "--save-every", "--data-dir", "--merge",
    "--device", "--tf32", "--merge-dtype"};

Json resumable_config(const Json& saved) {
  static const std::vector<std::string> invocation_only = {"resume", "eval-only", "max-steps",
                                                           "overwrite", "predict", "profile",
                                                           "tokenize"};
  Json kept = Json::object();
  for (const auto& [key, value] : saved.as_object())
    if (std::find(invocation_only.begin(), invocation_only.end(), key) == invocation_only.end())
      kept.set(key, value);
  return kept;
}

Device compute_device(const std::string& name, bool tf32) {
  if (name != "cuda") return Device::CPU;
  NEAT_CHECK(cuda_available(), "--device cuda: ", cuda_unavailable_reason());
  cuda_set_allow_tf32(tf32);
  return Device::CUDA;
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

std::string join_path(const std::string& dir, const std::string& file) { return dir + "/" + file; }

void write_log_files(const std::string& dir, const std::string& title, const History& history) {
  write_file_atomic(join_path(dir, "log.csv"), history.log_csv());
  write_file_atomic(join_path(dir, "curves.svg"), history.curves_svg(title));
}

std::vector<ParamGroup> parameter_groups(const Module& model, const TrainOptions& t) {
  ParamGroup head{"head", {}, t.head_lr, t.weight_decay};
  ParamGroup backbone{"backbone", {}, t.backbone_lr, t.weight_decay};
  for (const auto& named : model.named_parameters(/*trainable_only=*/true))
    (named.first.rfind("classifier.", 0) == 0 ? head : backbone).params.push_back(named);
  return {head, backbone};
}

namespace {

// The checkpoint writer of a run: a checkpoint that cannot be written (a full disk) is a
// warning; the run goes on, and its results, adapter and logs are still written.
std::function<void(const TrainState&)> checkpoint_writer(const TrainPlan& plan, Module& model,
                                                         AdamW& optimizer, std::ostream& err,
                                                         TrainRun& run) {
  int64_t trainable = 0;
  for (const auto& named : model.named_parameters(/*trainable_only=*/true))
    trainable += named.second.numel();
  const int64_t checkpoint_bytes = 3 * 4 * trainable;   // parameters + AdamW's two moments
  return [&plan, &model, &optimizer, &err, &run, checkpoint_bytes](const TrainState& s) {
    const std::string path = join_path(plan.dir, "checkpoint.safetensors");
    try {
      // The logs first: after a kill -9 they reach at least as far as the checkpoint.
      write_log_files(plan.dir, plan.title, s.history);
      save_checkpoint(path, model, optimizer, s);
      run.checkpoint_failed = false;
    } catch (const std::exception& e) {
      err << "warning: could not write the checkpoint " << path << " (about "
          << (checkpoint_bytes >> 20) + 1 << " MB): " << one_line(e.what()) << "\n";
      run.checkpoint_failed = true;
    }
  };
}

// The run's size, in a progress line; and its last step in this invocation (--max-steps).
int64_t announce_steps(const TrainOptions& t, const Module& model, ClassifierBatches& train,
                       const std::string& dir, int64_t steps, int64_t step, Progress& progress) {
  int64_t trainable = 0, total = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    total += p.numel();
    if (p.requires_grad()) trainable += p.numel();
  }
  const int64_t last = t.max_steps > 0 ? std::min(steps, t.max_steps) : steps;
  progress.line("training: " + std::to_string(train.size()) + " samples x " +
                std::to_string(t.epochs) + " epochs = " + std::to_string(steps) + " steps (" +
                std::to_string(train.steps_per_epoch()) + " batches of " +
                std::to_string(t.batch_size) + " per epoch, grad-accum " +
                std::to_string(t.grad_accum) + "), " + std::to_string(trainable) + " of " +
                std::to_string(total) + " parameters train" +
                (last < steps ? "; this invocation runs to step " + std::to_string(last) +
                                    " (--max-steps), " + std::to_string(std::max<int64_t>(0, last - step)) +
                                    " steps"
                              : "") +
                "; output in " + dir);
  return last;
}

TrainerSettings trainer_settings(const TrainOptions& t, int64_t steps) {
  TrainerSettings settings;
  settings.epochs = t.epochs;
  settings.batch_size = t.batch_size;
  settings.grad_accum = t.grad_accum;
  settings.schedule = {parse_schedule(t.schedule), steps, warmup_steps(steps, t.warmup_ratio)};
  settings.clip_grad = t.clip_grad;
  settings.seed = uint64_t(t.seed);
  settings.max_steps = t.max_steps;
  settings.profile_steps = t.profile_steps;
  settings.save_every = t.save_every;
  return settings;
}

// The measured estimate, for the steps this invocation runs.
std::function<void(double, double)> estimate_reporter(const TrainerSettings& settings,
                                                      const TrainState& state, int64_t last,
                                                      Progress& progress) {
  const int64_t after = settings.estimate_after;
  return [&state, &progress, after, last](double samples_per_second, double remaining) {
    progress.line("estimate: " + fixed(samples_per_second, 1) + " samples/s over the first " +
                  std::to_string(after) + " steps: about " + format_duration(remaining) +
                  " for the " + std::to_string(last - state.step) + " steps left (ETA " +
                  clock_time_after(remaining) + ")");
    if (remaining > 3600)
      progress.warning(
          "this run takes about " + format_duration(remaining) + " on the CPU. Faster: start from "
          "a pretrained backbone with --weights (scripts/get_weights.sh vit-base; a few epochs "
          "then suffice), a smaller --model or --image-size, fewer --epochs, --train-limit N, or "
          "--device cuda on a CUDA build");
  };
}

}  // namespace

int train_with_flags(const TrainPlan& plan, const TrainOptions& t, Module& model,
                     Generator& dropout, AdamW& optimizer, ClassifierBatches& train,
                     ClassifierBatches* val, Progress& progress, std::ostream& err,
                     TrainState& state, TrainRun& run) {
  const std::string checkpoint_path = join_path(plan.dir, "checkpoint.safetensors");
  run = TrainRun();
  if (plan.resuming) {
    const std::string program = state.program;
    state = load_checkpoint(checkpoint_path, model, optimizer);
    state.program = program;
    progress.line("resumed " + checkpoint_path + " at step " + std::to_string(state.step));
  }
  if (t.eval_only) return 0;
  state.config = plan.config;
  const int64_t steps = total_steps(train.steps_per_epoch(), t.grad_accum, t.epochs);
  TrainerSettings settings = trainer_settings(t, steps);
  settings.save = checkpoint_writer(plan, model, optimizer, err, run);
  settings.on_epoch_end = [&](const TrainState& s) { write_log_files(plan.dir, plan.title, s.history); };
  const int64_t last = announce_steps(t, model, train, plan.dir, steps, state.step, progress);
  settings.on_estimate = estimate_reporter(settings, state, last, progress);
  install_stop_handlers();
  Trainer trainer(model, dropout, optimizer, train, val, settings, progress);
  std::string message;
  TrainOutcome outcome;
  const int64_t step_before = state.step;
  try {
    outcome = trainer.fit(state, message);
  } catch (const std::exception& e) {
    // The trainer wrote a checkpoint of the last step before passing the error on.
    const bool saved = state.step > step_before && !run.checkpoint_failed;
    write_log_files(plan.dir, plan.title, state.history);
    throw std::runtime_error(one_line(e.what()) +
                             (saved ? "; its checkpoint is saved: after fixing that, continue "
                                      "with: " + plan.program + " --resume " + plan.dir
                                    : ""));
  }
  write_log_files(plan.dir, plan.title, state.history);
  run.train_seconds = state.wall_seconds;
  if (outcome == TrainOutcome::NonFinite) run.non_finite = message;
  if (outcome != TrainOutcome::Interrupted) return 0;
  err << plan.program << ": " << message
      << (run.checkpoint_failed ? "; the checkpoint could not be written"
                                : "; checkpoint saved, continue with: " + plan.program +
                                      " --resume " + plan.dir)
      << "\n";
  return 128 + stop_signal();
}

void set_run_fields(Json& results, const PeftReport& report, const TrainState& state,
                    double train_seconds, const std::string& rate_key, const Json& config) {
  results.set("trainable_params", report.trainable);
  results.set("total_params", report.total);
  results.set("trainable_ratio", report.ratio());
  results.set("steps", state.step);
  results.set("wall_seconds", train_seconds);
  results.set(rate_key, train_seconds > 0 ? double(state.images_seen) / train_seconds : 0.0);
  results.set("peak_rss_bytes", peak_rss_bytes());
  results.set("config", config);
}

std::string percent(double fraction) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f%%", 100.0 * fraction);
  return buffer;
}

std::string fixed(double x, int digits) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, x);
  return buffer;
}

PeftConfig seeded_peft_config(const MethodOptions& method, uint64_t seed,
                              std::shared_ptr<Generator> dropout) {
  PeftConfig peft = peft_config_from(method);
  peft.neat.seed = derive_seed(seed, 1);
  peft.lora.seed = derive_seed(seed, 2);
  peft.fourier.seed = derive_seed(seed, 3);
  peft.adapter.seed = derive_seed(seed, 4);
  peft.lora.dropout_generator = std::move(dropout);
  return peft;
}

int64_t load_step_adapter(const std::string& path, Module& model, const PeftConfig& peft) {
  const SafetensorsFile tensors = read_safetensors(adapter_tensors_path(path));
  if (!has_adapter_config(path)) return load_trainable(model, tensors);
  load_adapter(path, model, peft);
  return int64_t(tensors.tensors.size());
}

std::vector<std::pair<std::string, Tensor>> step_tensors(const std::string& program,
                                                         const Module& model,
                                                         const Variable& logits,
                                                         const Variable& loss) {
  std::vector<std::pair<std::string, Tensor>> tensors = {{"logits", logits.data()},
                                                         {"loss", loss.data()}};
  for (const auto& [name, p] : model.named_parameters(/*trainable_only=*/true)) {
    NEAT_CHECK(p.grad().defined(), program, ": no gradient reached '", name, "'");
    tensors.emplace_back("grad." + name, p.grad());
  }
  return tensors;
}

int64_t load_trainable(Module& model, const SafetensorsFile& file) {
  std::map<std::string, Variable> trainable;
  for (const auto& named : model.named_parameters(/*trainable_only=*/true)) trainable.insert(named);
  int64_t loaded = 0;
  for (const auto& [name, tensor] : file.tensors) {
    auto it = trainable.find(name);
    NEAT_CHECK(it != trainable.end(), "--adapter ", file.path, ": '", name,
               "' is not a trainable parameter of this model and method");
    NEAT_CHECK(it->second.shape() == tensor.shape(), "--adapter ", file.path, ": '", name,
               "' has shape ", shape_str(tensor.shape()), ", the model's is ",
               shape_str(it->second.shape()));
    it->second.data().copy_from(tensor);
    ++loaded;
  }
  return loaded;
}

}  // namespace neat
