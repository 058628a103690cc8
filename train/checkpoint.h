// Checkpoints: everything a run needs to continue exactly where it stopped, in one safetensors
// file (written atomically, so a crash mid-write leaves the previous checkpoint intact):
//
//   tensors   "param.<name>"        every trainable parameter, by its model name
//             "optim.<name>.<field>" AdamW state (exp_avg, exp_avg_sq, step)
//   metadata  "format": "neat.cpp checkpoint 1",
//             "state": JSON {step, epoch, batch, wall_seconds, history, config, program, ...}
//   (checkpoints written before dropout was reseeded per step also hold "dropout_rng"; it is
//   ignored: nothing reads it)
//
//   TrainState state;  state.step = 120;  ...
//   save_checkpoint(dir + "/checkpoint.safetensors", model, optimizer, state);
//   TrainState back = load_checkpoint(path, model, optimizer);   // same model + method built first
//
// On CPU with the same threads, a run resumed from a checkpoint ends with the same weights, bit
// for bit, as one that never stopped: the data order is a function of (seed, epoch), each
// sample's augmentation of (seed, epoch, index), and dropout is reseeded every step.
#pragma once
#include <cstdint>
#include <string>

#include "nn/module.h"
#include "tensor/json.h"
#include "train/history.h"
#include "train/optimizer.h"

namespace neat {

struct TrainState {
  int64_t step = 0;       // optimizer steps done
  int64_t epoch = 0;      // 0-based epoch in progress
  int64_t batch = 0;      // batches of that epoch already consumed
  double wall_seconds = 0;   // training time before this point (resumed runs add to it)
  int64_t images_seen = 0;   // training images processed, for images per second
  // Running sums of the epoch in progress (its train loss and accuracy when it ends).
  double epoch_loss_sum = 0;
  int64_t epoch_correct = 0, epoch_images = 0;
  History history;
  Json config;            // ArgParser::values() of the run
  std::string program;    // the program that trains it ("train_vit"); "" in older checkpoints
};

void save_checkpoint(const std::string& path, const Module& model, const AdamW& optimizer,
                     const TrainState& state);
// Reads only the state (config, position, history), e.g. to rebuild the run before loading.
TrainState read_checkpoint_state(const std::string& path);
// Restores the trainable tensors and the optimizer state into an already built model (same
// method and shapes); a missing, unexpected or mis-shaped tensor is an error naming it.
TrainState load_checkpoint(const std::string& path, Module& model, AdamW& optimizer);

}  // namespace neat
