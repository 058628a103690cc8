// The training loop: epochs of (accumulated) optimizer steps over a DataLoader, validation
// after each epoch, checkpoints, and the stop conditions (max steps, Ctrl-C, a non-finite
// loss). What to train and how is decided before: the model has its method attached, the
// optimizer holds the trainable parameters in groups, the loaders are built.
//
//   ImageBatches train(model, train_loader), val(model, val_loader);
//   Trainer trainer(model, model.generator(), optimizer, train, &val, settings, progress);
//   TrainState state;                               // or the one load_checkpoint returned
//   std::string message;                            // why it stopped early, if it did
//   TrainOutcome outcome = trainer.fit(state, message);  // state: position, history, timings
//   EvalResult test = evaluate(model, test_loader); // accuracy in 0..1 (or evaluate(model, batches))
//
// One optimizer step, with A = grad_accum batches b_1..b_A of n_1..n_A images (n = sum n_i):
//   loss = sum_i (n_i / n) * cross_entropy(model(b_i))    (the mean over all n images)
//   backward per batch (gradients add up), clip to the global norm, lr = base_lr * schedule(step),
//   AdamW step, zero the gradients.
// The epoch's last step takes the batches that are left (fewer than A), as Hugging Face's
// Trainer does. Dropout is reseeded from (seed, step, batch) so a resumed run replays it.
//
// Data-parallel (under mpirun, train/distributed.h): the N ranks take the same global batches in
// the same order, each its shard of every batch (ClassifierBatches::set_shard); each rank scales
// its loss by n_rank / n (n: the global step's images), so the sum over the ranks of the
// gradients (train/gradient_reducer.h, started during the step's last backward) is the
// gradient above; every rank then clips and steps alike. The step's loss, correct count, a
// non-finite loss and a stop signal are summed over the ranks, so all stop together. Dropout
// draws from (seed, step, batch * N + rank): with one batch per step, N ranks at batch size B
// compute what one process computes at batch size B / N with --grad-accum N, to the bit.
// Rank 0 alone saves checkpoints (and runs on_epoch_end).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "data/loader.h"
#include "models/vit.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/gradient_reducer.h"
#include "train/optimizer.h"
#include "train/progress.h"
#include "train/schedule.h"

namespace neat {

struct TrainerSettings {
  int64_t epochs = 1;
  int64_t batch_size = 1;  // the train loader's
  int64_t grad_accum = 1;
  LrSchedule schedule;   // total_steps must be total_steps(...) below
  double clip_grad = 0;  // 0 = no clipping
  uint64_t seed = 0;
  int64_t max_steps = 0;   // 0 = no limit
  // Profiles this many optimizer steps after the session's first one and prints the report
  // (tensor/profile.h) through the progress display, even when quiet; 0 = no profile.
  int64_t profile_steps = 0;
  int64_t save_every = 0;  // 0 = only when fit() returns
  // Data-parallel: the parameters of every rank are compared (train/replica_check.h) at the
  // start and every this many steps.
  int64_t replica_check_every = 100;
  // Writes a checkpoint of the given state (the trainer calls it every save_every steps and
  // before returning, except after a non-finite loss).
  std::function<void(const TrainState&)> save;
  // After each epoch's validation (e.g. to refresh log.csv and curves.svg).
  std::function<void(const TrainState&)> on_epoch_end;
  // Once, after the first estimate_after optimizer steps of this session: the measured
  // throughput and the time the remaining steps will take at that rate.
  int64_t estimate_after = 3;
  std::function<void(double images_per_second, double remaining_seconds)> on_estimate;
};

// Optimizer steps of a run: epochs * ceil(batches per epoch / grad_accum).
int64_t total_steps(int64_t batches_per_epoch, int64_t grad_accum, int64_t epochs);

enum class TrainOutcome {
  Finished,      // every epoch ran
  StoppedEarly,  // --max-steps reached
  Interrupted,   // SIGINT / SIGTERM: checkpoint written
  NonFinite,     // the loss or gradient norm became NaN or inf: no checkpoint written for it
};

// A model and one split of its data, as the trainer sees them: batches in a deterministic
// order by (epoch, step), and the logits of the current batch. ImageBatches (a ViT on a
// DataLoader) and train/text_batches.h (a BERT on token batches) implement it for classifiers;
// train/lm_batches.h for a causal LM, whose "labels" are the tokens its loss counts and whose
// correct examples are those with every counted token predicted (teacher forcing).
class ClassifierBatches {
 public:
  virtual ~ClassifierBatches() = default;
  virtual int64_t size() const = 0;   // samples in an epoch
  virtual int64_t steps_per_epoch() const = 0;
  virtual void start_epoch(int64_t epoch, int64_t first_step = 0) = 0;
  // Moves to the next batch: its labels [B] int64 and its step in the epoch; false at the end.
  virtual bool next(Tensor& labels, int64_t& step) = 0;
  virtual Variable logits() = 0;   // [B, classes] of the current batch, under the model's mode
  // The batch's loss on its logits: cross-entropy on class labels unless the data says other
  // (a regression's MSE: train/text_batches.h).
  virtual Variable loss(const Variable& logits, const Tensor& labels);
  // The batch's correct predictions (argmax = label); a regression counts none.
  virtual int64_t correct(const Tensor& logits, const Tensor& labels);
  // Data-parallel training: from the next start_epoch on, next() gives rank's shard of each
  // batch (data/loader.h shard_range; possibly empty: 0 labels); the step numbers stay the
  // global ones. Data that cannot be split refuses count > 1.
  virtual void set_shard(int64_t rank, int64_t count);
  // The examples in the batch, by which the step's batches and an evaluation's figures are
  // weighted: one a label for a classifier (labels.numel()).
  virtual int64_t examples(const Tensor& labels) { return labels.numel(); }
};

// Correct predictions in a batch: argmax over classes equals the label. logits [B, C], labels [B]
int64_t count_correct(const Tensor& logits, const Tensor& labels);

class ImageBatches : public ClassifierBatches {
 public:
  ImageBatches(ViTForImageClassification& model, DataLoader& loader) : model_(model), loader_(loader) {}
  int64_t size() const override { return loader_.dataset().size(); }
  int64_t steps_per_epoch() const override { return loader_.steps_per_epoch(); }
  void start_epoch(int64_t epoch, int64_t first_step = 0) override {
    loader_.start_epoch(epoch, first_step);
  }
  void set_shard(int64_t rank, int64_t count) override { loader_.set_shard(rank, count); }
  bool next(Tensor& labels, int64_t& step) override;
  // The batch goes to the model's device (queued without waiting from a pinned batch).
  Variable logits() override { return model_.forward(Variable(batch_.images.to(model_.device()))); }

 private:
  ViTForImageClassification& model_;
  DataLoader& loader_;
  Batch batch_;
};

struct EvalResult {
  double loss = 0, accuracy = 0;   // mean cross-entropy; fraction correct
  int64_t correct = 0, count = 0;
  bool interrupted = false;        // SIGINT / SIGTERM arrived: stopped early, the figures are partial
};
// Eval mode, no gradients; restores the model's previous train/eval mode. Stops after the batch
// in progress when a stop signal arrives (train/system.h). on_batch(done, total) follows it.
EvalResult evaluate(Module& model, ClassifierBatches& data,
                    const std::function<void(int64_t, int64_t)>& on_batch = nullptr);
EvalResult evaluate(ViTForImageClassification& model, DataLoader& loader,
                    const std::function<void(int64_t, int64_t)>& on_batch = nullptr);

class Trainer {
 public:
  // val may be null (no validation set). dropout: the stream every Dropout of the model draws
  // from (reseeded per batch).
  Trainer(Module& model, Generator& dropout, AdamW& optimizer, ClassifierBatches& train,
          ClassifierBatches* val, TrainerSettings settings, Progress& progress);
  // Continues from `state` (zero for a new run) and updates it; `message` receives the reason
  // for an interruption or a non-finite loss, naming the step. Any other error (an exception)
  // is passed on, after a checkpoint when a step was done in this call, except a bad value
  // that the GPU's deferred checks report (steps after it ran on garbage: nothing is saved).
  TrainOutcome fit(TrainState& state, std::string& message);

 private:
  // Validation at the end of an epoch and its history record; false when a stop signal cut it
  // short (no record: a resumed run validates that epoch again).
  bool run_validation(TrainState& state);
  // This fit() call: when it started, from where, and its extent.
  struct Session {
    double start = 0, wall_before = 0;
    int64_t step_at_start = 0, images_at_start = 0;
    int64_t steps = 0;       // of the whole run
    int64_t last_step = 0;   // where this call stops (--max-steps)
  };
  // The batches of one optimizer step: their summed loss (times images), correct, images.
  struct StepGroup {
    double loss = 0;
    int64_t correct = 0, images = 0;
  };
  // One epoch's batches from state's position, then false when the run stops in it (outcome
  // and message say why), true when the epoch ended.
  bool train_epoch(TrainState& state, const Session& session, TrainOutcome& outcome,
                   std::string& message);
  // After an optimizer step: the state's sums, the history, progress and the estimate.
  void after_step(TrainState& state, const Session& session, const StepGroup& group);
  void save(TrainState& state, const Session& session);
  // check_device_errors() (tensor/device_errors.h): a failure it reports spoiled steps that
  // already ran, so fit() then passes the error on without a checkpoint.
  void read_device_checks();
  TrainOutcome non_finite(const TrainState& state, const char* what, double value,
                          std::string& message);
  // Data-parallel: after the step's backward, the summed gradients and the group's figures
  // summed over the ranks; returns the stop signal any rank received (0: none).
  int reduce_step(StepGroup& group);
  // Data-parallel: this rank's shard, the reducer, the replicas compared.
  void start_data_parallel(int64_t step);
  // Where this batch's dropout draws from (the same on any number of ranks).
  uint64_t dropout_seed(const TrainState& state, int64_t batch_in_step) const;

  Module& model_;
  Generator& dropout_;
  AdamW& optimizer_;
  ClassifierBatches& train_;
  ClassifierBatches* val_;
  TrainerSettings settings_;
  Progress& progress_;
  Communicator& comm_;
  std::unique_ptr<GradientReducer> reducer_;   // data-parallel runs only
  bool spoiled_ = false;   // read_device_checks found a bad value: the model is not saved
};

}  // namespace neat
