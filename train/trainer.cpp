#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <optional>

#include "autograd/elementwise.h"
#include "autograd/nn_functional.h"
#include "tensor/device_errors.h"
#include "tensor/gpu.h"
#include "tensor/profile.h"
#include "tensor/reduce.h"
#include "train/replica_check.h"
#include "train/system.h"

namespace neat {

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const std::vector<int64_t> predicted = argmax(logits, 1).to_vector<int64_t>();
  const std::vector<int64_t> truth = labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return correct;
}

Variable ClassifierBatches::loss(const Variable& logits, const Tensor& labels) {
  return cross_entropy(logits, labels);
}

int64_t ClassifierBatches::correct(const Tensor& logits, const Tensor& labels) {
  return count_correct(logits, labels);
}

void ClassifierBatches::set_shard(int64_t rank, int64_t count) {
  NEAT_CHECK(count == 1, "this program's training data cannot be split between ", count,
             " ranks (its batches have no set_shard)");
}

namespace {

// Images in batch `b` of an epoch of `n` samples in batches of `batch_size` (the last may be short).
int64_t batch_images(int64_t b, int64_t n, int64_t batch_size) {
  return std::min(batch_size, n - b * batch_size);
}

}  // namespace

int64_t total_steps(int64_t batches_per_epoch, int64_t grad_accum, int64_t epochs) {
  return epochs * ((batches_per_epoch + grad_accum - 1) / grad_accum);
}

bool ImageBatches::next(Tensor& labels, int64_t& step) {
  if (!loader_.next(batch_)) return false;
  labels = batch_.labels.to(model_.device());
  step = batch_.step;
  return true;
}

EvalResult evaluate(ViTForImageClassification& model, DataLoader& loader,
                    const std::function<void(int64_t, int64_t)>& on_batch) {
  ImageBatches data(model, loader);
  return evaluate(model, data, on_batch);
}

EvalResult evaluate(Module& model, ClassifierBatches& data,
                    const std::function<void(int64_t, int64_t)>& on_batch) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  DeferDeviceChecks defer;   // a bad label's error is read once, before the figures are reported
  EvalResult r;
  double loss_sum = 0;
  data.start_epoch(0);
  Tensor labels;
  int64_t step = 0;
  for (int64_t done = 0; data.next(labels, step); ++done) {
    if (on_batch) on_batch(done, data.steps_per_epoch());
    if (stop_signal() != 0) {
      r.interrupted = true;
      break;
    }
    const Variable logits = data.logits();
    const int64_t n = data.examples(labels);
    loss_sum += data.loss(logits, labels).item() * double(n);
    r.correct += data.correct(logits.data(), labels);
    r.count += n;
  }
  model.train(was_training);
  check_device_errors();
  if (on_batch && !r.interrupted) on_batch(data.steps_per_epoch(), data.steps_per_epoch());
  if (r.count > 0) {
    r.loss = loss_sum / double(r.count);
    r.accuracy = double(r.correct) / double(r.count);
  }
  return r;
}

Trainer::Trainer(Module& model, Generator& dropout, AdamW& optimizer, ClassifierBatches& train,
                 ClassifierBatches* val, TrainerSettings settings, Progress& progress)
    : model_(model), dropout_(dropout), optimizer_(optimizer), train_(train), val_(val),
      settings_(std::move(settings)), progress_(progress), comm_(world()) {
  NEAT_CHECK(settings_.grad_accum >= 1 && settings_.epochs >= 1, "Trainer: grad_accum ",
             settings_.grad_accum, " and epochs ", settings_.epochs, " must be >= 1");
}

bool Trainer::run_validation(TrainState& state) {
  read_device_checks();   // the epoch's last steps, before its figures are reported
  EpochRecord record;
  record.epoch = state.epoch + 1;
  record.step = state.step;
  if (state.epoch_images > 0) {
    record.train_loss = state.epoch_loss_sum / double(state.epoch_images);
    record.train_acc = double(state.epoch_correct) / double(state.epoch_images);
  }
  std::string text = "epoch " + std::to_string(record.epoch) + ": train loss " +
                     std::to_string(record.train_loss) + ", accuracy " +
                     std::to_string(record.train_acc);
  if (val_ != nullptr) {
    const EvalResult v = evaluate(model_, *val_, [&](int64_t done, int64_t total) {
      progress_.eval("val", done, total);
    });
    if (v.interrupted) return false;
    record.val_loss = v.loss;
    record.val_acc = v.accuracy;
    text += "; val loss " + std::to_string(v.loss) + ", accuracy " + std::to_string(v.accuracy);
  }
  progress_.line(text);
  state.history.epochs.push_back(record);
  return true;
}

void Trainer::read_device_checks() {
  try {
    check_device_errors();
  } catch (const std::exception&) {
    spoiled_ = true;
    throw;
  }
}

void Trainer::save(TrainState& state, const Session& s) {
  read_device_checks();   // never a checkpoint of steps that a bad label or index spoiled
  state.wall_seconds = s.wall_before + (now_seconds() - s.start);
  if (settings_.save && comm_.rank() == 0) settings_.save(state);
}

TrainOutcome Trainer::non_finite(const TrainState& state, const char* what, double value,
                                 std::string& message) {
  read_device_checks();   // a bad label, not the learning rate, when one explains the value
  progress_.finish();
  message = std::string(what) + " is " + (std::isnan(value) ? "NaN" : value > 0 ? "inf" : "-inf") +
            " at step " + std::to_string(state.step + 1) + " (epoch " +
            std::to_string(state.epoch + 1) + "); stopped (try a lower learning rate)";
  return TrainOutcome::NonFinite;
}

uint64_t Trainer::dropout_seed(const TrainState& state, int64_t batch_in_step) const {
  return derive_seed(derive_seed(settings_.seed, uint64_t(state.step)),
                     uint64_t(batch_in_step * comm_.size() + comm_.rank()));
}

int Trainer::reduce_step(StepGroup& group) {
  reducer_->finish();
  std::vector<double> sums{group.loss, double(group.correct)};
  comm_.sum(sums);
  group.loss = sums[0];
  group.correct = int64_t(sums[1]);
  std::vector<double> stop{double(stop_signal())};
  comm_.max(stop);
  return int(stop[0]);
}

void Trainer::after_step(TrainState& state, const Session& s, const StepGroup& group) {
  if (profile_enabled() && state.step - s.step_at_start == 1 + settings_.profile_steps) {
    profile_stop();
    progress_.requested(profile_report());
  }
  state.images_seen += group.images;
  state.epoch_loss_sum += group.loss;
  state.epoch_correct += group.correct;
  state.epoch_images += group.images;
  const std::vector<ParamGroup>& groups = optimizer_.groups();
  const double lr = groups.back().params.empty() ? groups.front().lr : groups.back().lr;
  state.history.steps.push_back({state.step, state.epoch + 1, lr, group.loss / double(group.images),
                                 double(group.correct) / double(group.images)});

  const double elapsed = now_seconds() - s.start;
  ProgressState p;
  p.epoch = state.epoch + 1;
  p.epochs = settings_.epochs;
  p.step = state.step;
  p.steps = s.steps;
  p.loss = state.epoch_loss_sum / double(state.epoch_images);
  p.acc = double(state.epoch_correct) / double(state.epoch_images);
  p.images_per_second = double(state.images_seen) / std::max(1e-9, s.wall_before + elapsed);
  p.eta_seconds = elapsed / double(state.step - s.step_at_start) *
                  double(std::max<int64_t>(0, s.last_step - state.step));
  if (model_.device() != Device::CPU)
    p.gpu_gib = double(cuda_memory_stats().peak_allocated) / double(1 << 30);
  progress_.step(p);
  // The device's deferred checks (labels, indices, masks): read as often as a step is logged.
  if (state.step % progress_.log_every() == 0 || state.step == s.last_step) read_device_checks();
  if (settings_.on_estimate && state.step - s.step_at_start == settings_.estimate_after &&
      state.step < s.last_step)
    settings_.on_estimate(double(state.images_seen - s.images_at_start) / elapsed, p.eta_seconds);
}

bool Trainer::train_epoch(TrainState& state, const Session& s, TrainOutcome& outcome,
                          std::string& message) {
  const int64_t n = train_.size(), batches = train_.steps_per_epoch();
  const int64_t accum = settings_.grad_accum;
  train_.start_epoch(state.epoch, state.batch);
  Tensor labels;
  int64_t batch_step = 0;
  StepGroup group;
  while (train_.next(labels, batch_step)) {
    // The optimizer step this batch belongs to: batches [first, last] of the epoch.
    const int64_t first = batch_step / accum * accum;
    const int64_t last = std::min(first + accum, batches) - 1;
    group.images = 0;
    for (int64_t b = first; b <= last; ++b) group.images += batch_images(b, n, settings_.batch_size);
    // --profile N: the N optimizer steps after this session's first (warm-up) one.
    if (batch_step == first) {
      if (settings_.profile_steps > 0 && state.step - s.step_at_start == 1) profile_start();
      profile_step_begin();
    }
    dropout_.set_state(dropout_seed(state, batch_step - first));
    if (labels.numel() > 0) {   // a rank's shard of a last, small batch may be empty
      const Variable logits = train_.logits();
      const Variable loss = train_.loss(logits, labels);
      const double loss_value = loss.item();
      // One process stops at once; ranks go on to the step's end, where they stop together.
      if (!std::isfinite(loss_value) && !reducer_)
        return outcome = non_finite(state, "loss", loss_value, message), false;
      std::optional<GradReadyScope> watch;
      if (reducer_ && batch_step == last) watch.emplace(reducer_->hook());
      const int64_t examples = train_.examples(labels);
      mul_scalar(loss, double(examples) / double(group.images)).backward();
      group.loss += loss_value * double(examples);
      group.correct += train_.correct(logits.data(), labels);
    }
    if (batch_step != last) continue;

    // The optimizer step.
    const int agreed_stop = reducer_ ? reduce_step(group) : 0;
    if (!std::isfinite(group.loss)) return outcome = non_finite(state, "loss", group.loss, message), false;
    optimizer_.set_lr_multiplier(settings_.schedule.multiplier(state.step));
    // The norm is read here, before the step, so that a non-finite one stops the run with the
    // parameters untouched (on a GPU the one wait of the optimizer step).
    const double grad_norm = clip_grad_norm(optimizer_.parameters(), settings_.clip_grad).item();
    if (!std::isfinite(grad_norm))
      return outcome = non_finite(state, "gradient norm", grad_norm, message), false;
    optimizer_.step();
    optimizer_.zero_grad();
    profile_step_end();
    ++state.step;
    state.batch = batch_step + 1;
    after_step(state, s, group);
    group = StepGroup();
    if (reducer_ && state.step % settings_.replica_check_every == 0)
      check_replicas(comm_, model_, state.step);
    const int stop = reducer_ ? agreed_stop : stop_signal();
    if (stop != 0) {
      save(state, s);
      progress_.finish();
      message = std::string(stop == SIGINT ? "interrupted (SIGINT)" : "terminated") +
                " after step " + std::to_string(state.step);
      return outcome = TrainOutcome::Interrupted, false;
    }
    if (settings_.max_steps > 0 && state.step >= settings_.max_steps) {
      save(state, s);
      progress_.finish();
      return outcome = TrainOutcome::StoppedEarly, false;
    }
    if (settings_.save_every > 0 && state.step % settings_.save_every == 0) save(state, s);
  }
  progress_.finish();
  return true;
}

void Trainer::start_data_parallel(int64_t step) {
  NEAT_CHECK(settings_.batch_size >= comm_.size(), "data-parallel training: a batch of ",
             settings_.batch_size, " cannot be split between ", comm_.size(), " ranks");
  train_.set_shard(comm_.rank(), comm_.size());
  if (!reducer_) reducer_ = std::make_unique<GradientReducer>(comm_, optimizer_.parameters());
  check_replicas(comm_, model_, step);
  progress_.line("data-parallel: " + comm_.name() + ", each with its share of the batch of " +
                 std::to_string(settings_.batch_size) + "; " +
                 std::to_string(reducer_->bytes()) + " bytes of gradients summed per step in " +
                 std::to_string(reducer_->buckets()) + " bucket(s)");
}

TrainOutcome Trainer::fit(TrainState& state, std::string& message) {
  Session s;
  s.steps = total_steps(train_.steps_per_epoch(), settings_.grad_accum, settings_.epochs);
  // The last step of this call: --max-steps ends it early (estimates count to there).
  s.last_step = settings_.max_steps > 0 ? std::min(s.steps, settings_.max_steps) : s.steps;
  spoiled_ = false;
  NEAT_CHECK(settings_.schedule.total_steps == s.steps, "Trainer: schedule spans ",
             settings_.schedule.total_steps, " steps, the run has ", s.steps);
  model_.train();
  s.start = now_seconds();
  s.wall_before = state.wall_seconds;
  s.step_at_start = state.step;
  s.images_at_start = state.images_seen;
  if (comm_.size() > 1) start_data_parallel(state.step);
  // The GPU's value checks do not stop a step to report: check_device_errors() reads them once
  // per logging interval (after_step), at an epoch's end, before a checkpoint and at a
  // non-finite loss (tensor/device_errors.h).
  DeferDeviceChecks defer;
  // An error in the middle (an image that does not decode, a full disk) first saves the last
  // finished step, so the work is kept.
  try {
    for (; state.epoch < settings_.epochs; ++state.epoch) {
      TrainOutcome outcome = TrainOutcome::Finished;
      if (!train_epoch(state, s, outcome, message)) return outcome;
      if (!run_validation(state)) {
        save(state, s);
        message = std::string(stop_signal() == SIGINT ? "interrupted (SIGINT)" : "terminated") +
                  " during validation after step " + std::to_string(state.step);
        return TrainOutcome::Interrupted;
      }
      state.batch = 0;
      state.epoch_loss_sum = 0;
      state.epoch_correct = 0;
      state.epoch_images = 0;
      if (settings_.on_epoch_end && comm_.rank() == 0) settings_.on_epoch_end(state);
    }
  } catch (const std::exception& e) {
    progress_.finish();
    if (state.step == s.step_at_start) throw;   // nothing new to keep
    if (spoiled_)
      throw std::runtime_error(std::string(e.what()) + "; found after step " +
                               std::to_string(state.step) + ", nothing saved");
    save(state, s);
    throw std::runtime_error(std::string(e.what()) + "; stopped after step " +
                             std::to_string(state.step));
  }
  save(state, s);
  return TrainOutcome::Finished;
}

}  // namespace neat
