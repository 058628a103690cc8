// DataLoader: a Dataset + a Transform -> batches of (B, C, H, W) float32 images and (B) int64
// labels, built ahead of time by background worker threads so decoding and augmenting overlap
// the training step.
//
// Determinism: epoch e visits the samples in a permutation drawn from (seed, e); sample i's
// augmentation in epoch e draws from its own Generator seeded by (seed, e, i). So a batch's
// content depends only on (seed, epoch, step), never on thread timing or on the worker count,
// and start_epoch(e, s) (resume after a checkpoint) yields exactly the batches s, s+1, ... an
// uninterrupted run would have seen.
//
//   LoaderConfig lc;  lc.batch_size = 64;  lc.workers = 2;  lc.seed = 1;
//   DataLoader loader(train_set, Transform(tc, /*train=*/true), lc);
//   loader.start_epoch(epoch);                  // or start_epoch(epoch, step) to resume
//   Batch b;
//   while (loader.next(b)) { /* b.images (64, C, H, W) float32, b.labels (64) int64 */ }
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"
#include "tensor/tensor.h"

namespace neat {

struct LoaderConfig {
  int64_t batch_size = 64;
  bool shuffle = true;       // a new seeded permutation every epoch; false = dataset order
  bool drop_last = false;    // drop the last, smaller batch
  int64_t workers = 1;       // background threads; 0 = build each batch inside next()
  int64_t prefetch = 4;      // batches built ahead of the consumer (at least `workers`)
  uint64_t seed = 0;
  bool pin_memory = false;   // batches in pinned memory (a CUDA run: their copy to the GPU is queued)
  // Data-parallel training: each batch holds only this rank's shard of the global batch of
  // batch_size (shard_range); the order and the augmentation stay the single-process ones.
  int64_t shard_rank = 0, shard_count = 1;
};

// The samples [begin, end) of a global batch that rank `rank` of `count` takes: contiguous, in
// rank order (rank r: begin + r*n/count up to begin + (r+1)*n/count, n = end - begin), so the
// shards of all ranks, in rank order, are the global batch. May be empty when n < count.
std::pair<int64_t, int64_t> shard_range(int64_t begin, int64_t end, int64_t rank, int64_t count);

struct Batch {
  Tensor images;                  // (B, C, H, W) float32
  Tensor labels;                  // (B) int64
  std::vector<int64_t> indices;   // dataset index of each sample
  int64_t epoch = 0, step = 0;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> data, Transform transform, LoaderConfig config);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t steps_per_epoch() const;
  const Dataset& dataset() const { return *data_; }
  // Starts epoch `epoch` at batch `first_step` (0 = the beginning); drops any batch built for
  // an earlier start.
  void start_epoch(int64_t epoch, int64_t first_step = 0);
  // The next batch of the current epoch; false once the epoch is over. A worker's error
  // (e.g. an unreadable image) is rethrown here.
  bool next(Batch& batch);

  // The dataset indices in the order epoch `epoch` visits them.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Data-parallel training: this rank's shard of every batch (before the first start_epoch).
  void set_shard(int64_t rank, int64_t count);
  // Batch `step` of an epoch whose order is `order` (this rank's shard): what the workers build.
  // An empty shard has 0 labels and no images.
  Batch make_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t step) const;

 private:
  void worker_loop();
  void stop_workers();   // tells the workers to stop and joins them

  std::shared_ptr<const Dataset> data_;
  Transform transform_;
  LoaderConfig config_;

  // Shared with the workers, guarded by mutex_. Steps [next_claim_, end_step_) are still to be
  // built, [next_deliver_, next_claim_) are being built or wait in ready_.
  std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  bool stopping_ = false;
  uint64_t generation_ = 0;   // bumped by start_epoch: a batch of an older generation is dropped
  int64_t epoch_ = -1;
  std::shared_ptr<const std::vector<int64_t>> order_;
  int64_t next_claim_ = 0, next_deliver_ = 0, end_step_ = 0;
  std::map<int64_t, Batch> ready_;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

}  // namespace neat
