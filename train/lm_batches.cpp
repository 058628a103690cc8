#include "train/lm_batches.h"

#include <algorithm>
#include <numeric>

#include "autograd/shape_ops.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "tensor/random.h"
#include "tensor/reduce.h"

namespace neat {

namespace {

// An example cut to max_len tokens: the start of its prompt first, then the end of its response.
LmExample fit(const LmExample& e, int64_t max_len, int64_t& truncated) {
  const int64_t p = int64_t(e.prompt.size()), r = int64_t(e.response.size());
  if (p + r <= max_len) return e;
  ++truncated;
  LmExample cut;
  const int64_t keep_response = std::min(r, max_len);
  const int64_t keep_prompt = max_len - keep_response;
  cut.prompt.assign(e.prompt.end() - keep_prompt, e.prompt.end());
  cut.response.assign(e.response.begin(), e.response.begin() + keep_response);
  return cut;
}

}  // namespace

LmBatches::LmBatches(LlamaForCausalLM& model, const std::vector<LmExample>& examples,
                     int64_t max_len, int64_t batch_size, LmPacking packing, bool shuffle,
                     uint64_t seed, int64_t pad_id)
    : model_(model), batch_size_(batch_size), pad_id_(pad_id), shuffle_(shuffle), seed_(seed) {
  NEAT_CHECK(batch_size > 0 && max_len >= 2 && !examples.empty(),
             "LmBatches: need a positive batch size, max_len >= 2 and at least one example, got ",
             batch_size, ", ", max_len, " and ", examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    NEAT_CHECK(!examples[i].response.empty(), "LmBatches: example ", i, " has an empty response");
    const LmExample e = fit(examples[i], max_len, truncated_);
    const bool fits = packing == LmPacking::kPack && !rows_.empty() &&
                      int64_t(rows_.back().ids.size() + e.prompt.size() + e.response.size()) <= max_len;
    if (!fits) rows_.emplace_back();
    Row& row = rows_.back();
    row.ids.insert(row.ids.end(), e.prompt.begin(), e.prompt.end());
    row.ids.insert(row.ids.end(), e.response.begin(), e.response.end());
    row.labels.insert(row.labels.end(), e.prompt.size(), -100);
    row.labels.insert(row.labels.end(), e.response.begin(), e.response.end());
  }
}

int64_t LmBatches::steps_per_epoch() const { return (size() + batch_size_ - 1) / batch_size_; }

int64_t LmBatches::tokens() const {
  int64_t n = 0;
  for (const Row& row : rows_) n += int64_t(row.ids.size());
  return n;
}

void LmBatches::start_epoch(int64_t epoch, int64_t first_step) {
  order_.resize(rows_.size());
  std::iota(order_.begin(), order_.end(), 0);
  if (shuffle_) order_ = random_permutation(size(), derive_seed(seed_, uint64_t(epoch)));
  next_step_ = first_step;
}

void LmBatches::set_shard(int64_t rank, int64_t count) {
  shard_range(0, 0, rank, count);   // checks them
  shard_rank_ = rank;
  shard_count_ = count;
}

LmBatches::Inputs LmBatches::batch(const std::vector<int64_t>& order, int64_t step) const {
  const int64_t begin = step * batch_size_;
  const auto [first, last] = shard_range(
      begin, std::min(begin + batch_size_, int64_t(order.size())), shard_rank_, shard_count_);
  const int64_t B = last - first;
  int64_t N = 0;
  for (int64_t b = 0; b < B; ++b) N = std::max(N, int64_t(rows_[size_t(order[size_t(first + b)])].ids.size()));
  Inputs in{Tensor({B, N}, DType::Int64), Tensor({B, N}, DType::Int64), Tensor({B, N}, DType::Int64)};
  int64_t* ids = in.ids.data<int64_t>();
  int64_t* mask = in.mask.data<int64_t>();
  int64_t* labels = in.labels.data<int64_t>();
  std::fill(ids, ids + B * N, pad_id_);
  std::fill(mask, mask + B * N, 0);
  std::fill(labels, labels + B * N, -100);
  for (int64_t b = 0; b < B; ++b) {
    const Row& row = rows_[size_t(order[size_t(first + b)])];
    std::copy(row.ids.begin(), row.ids.end(), ids + b * N);
    std::fill(mask + b * N, mask + b * N + int64_t(row.ids.size()), 1);
    std::copy(row.labels.begin(), row.labels.end(), labels + b * N);
  }
  return in;
}

// The counted tokens of the batch: position b N + n predicts labels[b, n + 1] (causal_lm_loss).
bool LmBatches::next(Tensor& labels, int64_t& step) {
  if (next_step_ >= steps_per_epoch()) return false;
  current_ = batch(order_, next_step_);
  const int64_t B = current_.ids.size(0), N = current_.ids.size(1);
  const int64_t* y = current_.labels.data<int64_t>();
  positions_.clear();
  row_of_target_.clear();
  std::vector<int64_t> targets;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n + 1 < N; ++n)
      if (y[b * N + n + 1] != -100) {
        positions_.push_back(b * N + n);
        row_of_target_.push_back(b);
        targets.push_back(y[b * N + n + 1]);
      }
  NEAT_CHECK(B == 0 || !targets.empty(), "LmBatches: batch ", next_step_, " has no response "
             "token to predict (every response is cut off by max_len?)");   // B == 0: an empty shard
  labels = from_vector(targets, {int64_t(targets.size())}).to(model_.device());
  step = next_step_++;
  return true;
}

Variable LmBatches::logits() {
  const Device device = model_.device();
  const Variable h = model_.model->forward(current_.ids.to(device), current_.mask.to(device),
                                           Tensor(), nullptr);
  const int64_t B = h.size(0), N = h.size(1), D = h.size(2);
  const Tensor rows = from_vector(positions_, {int64_t(positions_.size())}).to(device);
  return model_.head(index_select(reshape(h, {B * N, D}), 0, rows));
}

int64_t LmBatches::correct(const Tensor& logits, const Tensor& labels) {
  const std::vector<int64_t> predicted = argmax(logits, 1).to(Device::CPU).to_vector<int64_t>();
  const std::vector<int64_t> truth = labels.to(Device::CPU).to_vector<int64_t>();
  std::vector<char> wrong(size_t(current_.ids.size(0)), 0);
  for (size_t t = 0; t < truth.size(); ++t)
    if (predicted[t] != truth[t]) wrong[size_t(row_of_target_[t])] = 1;
  return int64_t(std::count(wrong.begin(), wrong.end(), 0));
}

}  // namespace neat
