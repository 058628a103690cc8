// History: what a run measured, step by step and epoch by epoch. It is saved inside every
// checkpoint (so a resumed run's log is complete) and written out as log.csv and curves.svg.
//
//   History h;
//   h.steps.push_back({/*step=*/1, /*epoch=*/1, /*lr=*/5e-3, /*loss=*/2.30, /*acc=*/0.12});
//   h.epochs.push_back({/*epoch=*/1, /*step=*/100, /*train_loss=*/1.1, /*train_acc=*/0.6,
//                       /*val_loss=*/0.9, /*val_acc=*/0.7});
//   write_file_atomic(dir + "/log.csv", h.log_csv());
//   write_file_atomic(dir + "/curves.svg", h.curves_svg("neat on cifar10"));
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/json.h"

namespace neat {

// One optimizer step: loss and accuracy over the images of its (accumulated) batches.
struct StepRecord {
  int64_t step = 0;    // 1-based optimizer step
  int64_t epoch = 0;   // 1-based
  double lr = 0;       // learning rate of the adapted backbone (of the head for --method head)
  double loss = 0;
  double acc = 0;      // fraction in 0..1
};

// One finished epoch; val_* are negative when there is no validation set.
struct EpochRecord {
  int64_t epoch = 0;
  int64_t step = 0;    // optimizer steps done at the end of this epoch
  double train_loss = 0, train_acc = 0;
  double val_loss = -1, val_acc = -1;
};

struct History {
  std::vector<StepRecord> steps;
  std::vector<EpochRecord> epochs;

  // "step,epoch,lr,loss,acc" then one row per step.
  std::string log_csv() const;
  // A self-contained SVG: loss (left) and accuracy (right) against optimizer steps, training
  // per step (light) with its moving average, validation per epoch (dots).
  std::string curves_svg(const std::string& title) const;
  Json to_json() const;
  static History from_json(const Json& json);
};

}  // namespace neat
