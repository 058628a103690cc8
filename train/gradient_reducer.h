// Data-parallel gradient sums that start while the backward still runs (as PyTorch's DDP): the
// trainable parameters are cut into buckets of about bucket_bytes, in reverse order (the last
// layers' gradients finish first); a bucket's sum over the ranks starts as soon as every
// gradient in it is final (autograd/variable.h GradReadyScope), in bucket order on every rank.
// finish() waits for all of them. Each rank scales its loss by its examples / the global batch's
// (train/trainer.h), so the sums are the gradients of the global batch's mean loss.
//
//   GradientReducer reducer(world(), optimizer.parameters());
//   {
//     GradReadyScope watch(reducer.hook());     // the step's last backward only
//     loss.backward();                          // buckets start during it
//   }
//   reducer.finish();                           // every rank: the same summed gradients
#pragma once
#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "autograd/variable.h"
#include "train/distributed.h"

namespace neat {

class GradientReducer {
 public:
  // 25 MiB buckets, PyTorch DDP's default.
  GradientReducer(Communicator& comm, std::vector<Variable> params,
                  size_t bucket_bytes = size_t(25) << 20);
  // For a GradReadyScope around the step's last backward: starts the buckets as their
  // gradients become final.
  GradReadyHook hook();
  // Starts the buckets left (gradients no backward reached count as zeros), waits for all,
  // and leaves every parameter's gradient summed over the ranks. A parameter no rank had a
  // gradient for keeps none (the optimizer skips it, as in one process).
  void finish();
  size_t buckets() const { return buckets_.size(); }
  size_t bytes() const;   // float32 values summed per step, in bytes

 private:
  struct Bucket {
    std::vector<size_t> params;   // indices into params_
    size_t ready = 0;
  };
  void ready(size_t param);
  void start_ready_buckets();   // in bucket order, as far as they are complete

  Communicator& comm_;
  std::vector<Variable> params_;
  std::vector<size_t> bucket_of_;
  std::vector<bool> is_ready_;
  std::unordered_map<const VariableImpl*, size_t> index_;
  std::vector<Bucket> buckets_;
  std::vector<std::unique_ptr<Reduction>> started_;   // buckets [0, started_.size()) started
};

}  // namespace neat
