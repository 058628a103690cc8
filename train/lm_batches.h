// Batches of prompt / response examples for causal-LM fine-tuning (train/trainer.h's
// ClassifierBatches): the loss counts the response tokens only, as LLM-Adapters'
// train_on_inputs=False and TRL's completion-only collator do.
//
//   LmExample e{tokenizer.encode(prompt, {true}), tokenizer.encode(response)};  // + eos
//   LmBatches train(model, {e, ...}, /*max_len=*/256, /*batch=*/8, LmPacking::kPad, true, seed, pad);
//   Trainer trainer(model, dropout, optimizer, train, nullptr, settings, progress);
//
// A row is prompt + response, its labels -100 over the prompt (and the padding), the response's
// own ids elsewhere (causal_lm_loss shifts them: position n predicts label n + 1).
//   kPad:  one example a row, right-padded to the batch's longest with attention mask 0 (the
//          padding is neither attended nor counted); positions 0.. in every row.
//   kPack: examples concatenated in order into rows of at most max_len tokens (never split, one
//          longer than max_len is a row alone), attention causal over the whole row as TRL's
//          packing without flash-attention's varlen: an example sees the ones before it in its
//          row. Rows are right-padded like kPad.
// An example longer than max_len loses the start of its prompt (then the end of its response
// if that alone is longer); truncated() counts them.
// Epoch e visits the rows in a permutation drawn from (seed, e) (in order without shuffle).
// The trainer sees, per batch: labels = the counted tokens' ids [T] (T tokens), logits() = the
// logits of the T positions that predict them [T, V] (lm_head runs on those rows only: the
// mean cross-entropy is causal_lm_loss of the full logits), correct = rows whose every counted
// token is the argmax (teacher forcing: the row's response is what greedy decoding gives),
// examples = rows.
#pragma once
#include <cstdint>
#include <vector>

#include "models/llama.h"
#include "train/trainer.h"

namespace neat {

struct LmExample {
  std::vector<int64_t> prompt;     // tokens not counted by the loss (bos first, if any)
  std::vector<int64_t> response;   // tokens counted (eos last, if any); not empty
};

enum class LmPacking { kPad, kPack };

class LmBatches : public ClassifierBatches {
 public:
  LmBatches(LlamaForCausalLM& model, const std::vector<LmExample>& examples, int64_t max_len,
            int64_t batch_size, LmPacking packing, bool shuffle, uint64_t seed, int64_t pad_id);
  int64_t size() const override { return int64_t(rows_.size()); }
  int64_t steps_per_epoch() const override;
  void start_epoch(int64_t epoch, int64_t first_step = 0) override;
  bool next(Tensor& labels, int64_t& step) override;
  Variable logits() override;
  int64_t correct(const Tensor& logits, const Tensor& labels) override;
  int64_t examples(const Tensor&) override { return current_.ids.size(0); }
  // Data-parallel training: batch() and next() give this rank's shard of each batch's rows
  // (data/loader.h shard_range; an empty shard gives 0 labels), padded to the shard's longest.
  void set_shard(int64_t rank, int64_t count) override;
  int64_t truncated() const { return truncated_; }
  int64_t tokens() const;   // in every row, padding excluded

  // Batch `step` of the order (this rank's shard of it): ids, attention mask (1 token, 0
  // padding) and labels (-100 over prompts and padding) [B, N] int64, N the longest row.
  struct Inputs {
    Tensor ids, mask, labels;
  };
  Inputs batch(const std::vector<int64_t>& order, int64_t step) const;

 private:
  struct Row {
    std::vector<int64_t> ids, labels;
  };
  LlamaForCausalLM& model_;
  std::vector<Row> rows_;
  int64_t batch_size_, pad_id_, truncated_ = 0;
  bool shuffle_;
  uint64_t seed_;
  std::vector<int64_t> order_;
  int64_t next_step_ = 0;
  int64_t shard_rank_ = 0, shard_count_ = 1;
  Inputs current_;
  std::vector<int64_t> positions_, row_of_target_;   // the current batch's counted tokens
};

}  // namespace neat
