#include "data/loader.h"

#include <algorithm>
#include <numeric>
#include <system_error>

#include "tensor/check.h"

namespace neat {

namespace {
constexpr uint64_t kShuffleStream = 0x53485546;   // "SHUF"
constexpr uint64_t kAugmentStream = 0x4155474D;   // "AUGM"
}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> data, Transform transform, LoaderConfig config)
    : data_(std::move(data)), transform_(std::move(transform)), config_(config) {
  NEAT_CHECK(data_ != nullptr, "DataLoader: no dataset");
  NEAT_CHECK(config_.batch_size > 0 && config_.workers >= 0 && config_.prefetch >= 1,
             "DataLoader: need batch_size > 0, workers >= 0, prefetch >= 1, got batch_size=",
             config_.batch_size, " workers=", config_.workers, " prefetch=", config_.prefetch);
  config_.prefetch = std::max(config_.prefetch, config_.workers);
  try {
    for (int64_t w = 0; w < config_.workers; ++w) threads_.emplace_back(&DataLoader::worker_loop, this);
  } catch (const std::system_error& e) {
    // No destructor runs for a half-built object: join the started workers here, or the
    // joinable threads would terminate the process.
    const size_t started = threads_.size();
    stop_workers();
    NEAT_CHECK(false, "DataLoader: cannot start worker thread ", started + 1, " of ",
               config_.workers, ": ", e.what());
  }
}

DataLoader::~DataLoader() { stop_workers(); }

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

int64_t DataLoader::steps_per_epoch() const {
  int64_t n = data_->size(), b = config_.batch_size;
  return config_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(data_->size()));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (config_.shuffle) {
    Generator gen(derive_seed(derive_seed(config_.seed, kShuffleStream), uint64_t(epoch)));
    for (int64_t i = int64_t(order.size()) - 1; i > 0; --i) std::swap(order[i], order[gen.below(uint64_t(i + 1))]);
  }
  return order;
}

std::pair<int64_t, int64_t> shard_range(int64_t begin, int64_t end, int64_t rank, int64_t count) {
  NEAT_CHECK(count >= 1 && rank >= 0 && rank < count, "shard_range: rank ", rank, " of ", count);
  const int64_t n = end - begin;
  return {begin + rank * n / count, begin + (rank + 1) * n / count};
}

void DataLoader::set_shard(int64_t rank, int64_t count) {
  shard_range(0, 0, rank, count);   // checks them
  std::lock_guard<std::mutex> lock(mutex_);
  if (rank == config_.shard_rank && count == config_.shard_count) return;
  // The workers read config_ while they build: idle only before the first epoch.
  NEAT_CHECK(epoch_ < 0, "DataLoader: set_shard after an epoch started");
  config_.shard_rank = rank;
  config_.shard_count = count;
}

Batch DataLoader::make_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t step) const {
  const int64_t begin = step * config_.batch_size;
  const int64_t end = std::min(begin + config_.batch_size, int64_t(order.size()));
  NEAT_CHECK(begin < end, "DataLoader: step ", step, " is past the end of an epoch of ", order.size(), " samples");
  const auto [first, last] = shard_range(begin, end, config_.shard_rank, config_.shard_count);
  Batch batch;
  batch.epoch = epoch;
  batch.step = step;
  batch.indices.assign(order.begin() + first, order.begin() + last);
  const int64_t B = last - first;
  if (B == 0) batch.labels = Tensor({0}, DType::Int64);
  const uint64_t epoch_seed = derive_seed(derive_seed(config_.seed, kAugmentStream), uint64_t(epoch));
  std::array<int64_t, 3> chw{};
  for (int64_t k = 0; k < B; ++k) {
    Sample s = data_->get(batch.indices[k]);
    std::array<int64_t, 3> shape = transform_.output_shape(s.image.height, s.image.width);
    if (k == 0) {
      chw = shape;
      const Shape image_shape{B, chw[0], chw[1], chw[2]};
      batch.images = config_.pin_memory ? pinned_empty(image_shape, DType::Float32) : Tensor(image_shape, DType::Float32);
      batch.labels = config_.pin_memory ? pinned_empty({B}, DType::Int64) : Tensor({B}, DType::Int64);
    }
    NEAT_CHECK(shape == chw, "DataLoader: sample ", batch.indices[k], " becomes ", shape[0], "x", shape[1], "x",
               shape[2], " but sample ", batch.indices[0], " became ", chw[0], "x", chw[1], "x", chw[2],
               " (images of different sizes need a resize: turn native_resolution off)");
    Generator gen(derive_seed(epoch_seed, uint64_t(batch.indices[k])));
    transform_.apply(s.image, gen, batch.images.data<float>() + k * chw[0] * chw[1] * chw[2]);
    batch.labels.data<int64_t>()[k] = s.label;
  }
  return batch;
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_step) {
  NEAT_CHECK(epoch >= 0 && first_step >= 0 && first_step <= steps_per_epoch(), "DataLoader: cannot start epoch ",
             epoch, " at step ", first_step, " (", steps_per_epoch(), " steps per epoch)");
  auto order = std::make_shared<const std::vector<int64_t>>(epoch_order(epoch));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    epoch_ = epoch;
    order_ = std::move(order);
    next_claim_ = next_deliver_ = first_step;
    end_step_ = steps_per_epoch();
    ready_.clear();
    error_ = nullptr;
  }
  work_cv_.notify_all();
}

bool DataLoader::next(Batch& batch) {
  NEAT_CHECK(epoch_ >= 0, "DataLoader: call start_epoch() before next()");
  if (next_deliver_ >= end_step_) return false;
  if (threads_.empty()) {
    batch = make_batch(*order_, epoch_, next_deliver_);
    ++next_deliver_;
    return true;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  ready_cv_.wait(lock, [&] { return error_ != nullptr || ready_.count(next_deliver_) > 0; });
  if (error_) std::rethrow_exception(error_);   // kept until the next start_epoch
  auto it = ready_.find(next_deliver_);
  batch = std::move(it->second);
  ready_.erase(it);
  ++next_deliver_;
  lock.unlock();
  work_cv_.notify_all();
  return true;
}

void DataLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] {
      return stopping_ || (next_claim_ < end_step_ && next_claim_ < next_deliver_ + config_.prefetch);
    });
    if (stopping_) return;
    const int64_t step = next_claim_++, epoch = epoch_;
    const uint64_t generation = generation_;
    std::shared_ptr<const std::vector<int64_t>> order = order_;
    lock.unlock();
    Batch batch;
    std::exception_ptr error;
    try {
      batch = make_batch(*order, epoch, step);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (generation != generation_) continue;   // start_epoch came in between: stale
    if (error && !error_) error_ = error;
    if (!error) ready_.emplace(step, std::move(batch));
    ready_cv_.notify_all();
  }
}

}  // namespace neat
