#include "train/text_batches.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/dataset.h"
#include "data/loader.h"
#include "tensor/random.h"

namespace neat {

TextBatches::TextBatches(BertForSequenceClassification& model, const Tokenizer& tokenizer,
                         const std::vector<TextExample>& examples, int64_t max_len,
                         int64_t batch_size, bool shuffle, uint64_t seed)
    : model_(model), regression_(model.config().regression()), batch_size_(batch_size),
      pad_id_(tokenizer.special().pad),
      shuffle_(shuffle), seed_(seed) {
  NEAT_CHECK(batch_size > 0 && !examples.empty(), "TextBatches: need a positive batch size and ",
             "at least one example, got ", batch_size, " and ", examples.size());
  for (const TextExample& e : examples) {
    if (regression_)
      NEAT_CHECK(std::isfinite(e.score), "TextBatches: a regression model (num_labels 1) needs ",
                 "a score for every example; example ", targets_.size(), " has none");
    else
      NEAT_CHECK(e.label >= 0, "TextBatches: an example has no label (a GLUE test file?)");
    encoded_.push_back(tokenizer.encode(e.a, e.b.empty() ? nullptr : &e.b, max_len));
    targets_.push_back(regression_ ? e.score : double(e.label));
  }
}

int64_t TextBatches::steps_per_epoch() const { return (size() + batch_size_ - 1) / batch_size_; }

void TextBatches::start_epoch(int64_t epoch, int64_t first_step) {
  order_.resize(encoded_.size());
  std::iota(order_.begin(), order_.end(), 0);
  if (shuffle_) order_ = random_permutation(size(), derive_seed(seed_, uint64_t(epoch)));
  next_step_ = first_step;
}

TextBatches::Inputs TextBatches::batch(const std::vector<int64_t>& order, int64_t step) const {
  const int64_t begin = step * batch_size_;
  const auto [first, last] = shard_range(
      begin, std::min(begin + batch_size_, int64_t(order.size())), shard_rank_, shard_count_);
  const int64_t B = last - first;
  int64_t N = 0;
  for (int64_t b = 0; b < B; ++b) N = std::max(N, encoded_[size_t(order[first + b])].size());
  Inputs in{Tensor({B, N}, DType::Int64), Tensor({B, N}, DType::Int64),
            Tensor({B, N}, DType::Int64),
            Tensor({B}, regression_ ? DType::Float32 : DType::Int64)};
  for (int64_t b = 0; b < B; ++b) {
    Encoding e = encoded_[size_t(order[first + b])];
    pad_to(e, N, pad_id_);
    std::copy(e.ids.begin(), e.ids.end(), in.ids.data<int64_t>() + b * N);
    std::copy(e.attention_mask.begin(), e.attention_mask.end(), in.mask.data<int64_t>() + b * N);
    std::copy(e.type_ids.begin(), e.type_ids.end(), in.types.data<int64_t>() + b * N);
    const double target = targets_[size_t(order[first + b])];
    if (regression_) in.labels.data<float>()[b] = float(target);
    else in.labels.data<int64_t>()[b] = int64_t(target);
  }
  return in;
}

void TextBatches::set_shard(int64_t rank, int64_t count) {
  shard_range(0, 0, rank, count);   // checks them
  shard_rank_ = rank;
  shard_count_ = count;
}

bool TextBatches::next(Tensor& labels, int64_t& step) {
  if (next_step_ >= steps_per_epoch()) return false;
  current_ = batch(order_, next_step_);
  labels = current_.labels;
  step = next_step_++;
  return true;
}

Variable TextBatches::loss(const Variable& logits, const Tensor& labels) {
  return sequence_classification_loss(model_.config(), logits, labels);
}

int64_t TextBatches::correct(const Tensor& logits, const Tensor& labels) {
  return regression_ ? 0 : count_correct(logits, labels);
}

Variable TextBatches::logits() {
  return model_.forward(current_.ids, current_.mask, current_.types);
}

}  // namespace neat
