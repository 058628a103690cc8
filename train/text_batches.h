// Batches of a tokenised text split for the trainer (train/trainer.h ClassifierBatches): every
// example is tokenised once up front; epoch e visits them in a permutation drawn from
// (seed, e) (or in order without shuffle); each batch is padded to its longest example.
//
//   TextBatches train(model, tokenizer, dataset.train, /*max_len=*/64, /*batch=*/32, true, seed);
//   Trainer trainer(model, model.generator(), optimizer, train, &val, settings, progress);
#pragma once
#include <cstdint>
#include <vector>

#include "data/text_dataset.h"
#include "models/bert.h"
#include "text/encoding.h"
#include "train/trainer.h"

namespace neat {

class TextBatches : public ClassifierBatches {
 public:
  // Targets follow the model's config: class labels (int64), or for a regression model
  // (num_labels 1, BertConfig::regression()) the examples' scores (float32), as
  // sequence_classification_loss (models/bert.h) takes them. An example without its target
  // (label -1 or score NaN: an unlabelled test file) is an error.
  TextBatches(BertForSequenceClassification& model, const Tokenizer& tokenizer,
              const std::vector<TextExample>& examples, int64_t max_len, int64_t batch_size,
              bool shuffle, uint64_t seed);
  int64_t size() const override { return int64_t(encoded_.size()); }
  int64_t steps_per_epoch() const override;
  void start_epoch(int64_t epoch, int64_t first_step = 0) override;
  bool next(Tensor& labels, int64_t& step) override;
  Variable logits() override;
  // sequence_classification_loss: MSE for a regression model, else cross-entropy.
  Variable loss(const Variable& logits, const Tensor& labels) override;
  int64_t correct(const Tensor& logits, const Tensor& labels) override;   // 0 for a regression
  // Data-parallel training: batch() gives this rank's shard of each batch (data/loader.h
  // shard_range), padded to the shard's longest example.
  void set_shard(int64_t rank, int64_t count) override;

  // The model inputs of batch `step` of the order: ids, attention mask, token types [B, N]
  // int64 and labels [B] (int64 classes, or float32 scores for a regression model).
  struct Inputs {
    Tensor ids, mask, types, labels;
  };
  Inputs batch(const std::vector<int64_t>& order, int64_t step) const;

 private:
  BertForSequenceClassification& model_;
  std::vector<Encoding> encoded_;
  bool regression_;
  std::vector<double> targets_;  // class indices, or scores for a regression model
  int64_t batch_size_, pad_id_;
  bool shuffle_;
  uint64_t seed_;
  std::vector<int64_t> order_;
  int64_t next_step_ = 0;
  int64_t shard_rank_ = 0, shard_count_ = 1;
  Inputs current_;
};

}  // namespace neat
