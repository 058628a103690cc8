// TextBatches (train/text_batches.h): the targets follow the model's config, int64 class labels
// for a classifier and float32 scores for a regression model (num_labels 1, as STS-B), which
// sequence_classification_loss (models/bert.h) takes as they come; an example without its
// target is an error.
#include <doctest/doctest.h>

#include "models/bert.h"
#include "tests/op_test_util.h"
#include "text/wordpiece.h"
#include "train/text_batches.h"

using namespace neat;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

BertConfig tiny_text_config(int64_t num_labels) {
  BertConfig c;
  c.vocab_size = 12;
  c.hidden = 4;
  c.layers = 1;
  c.heads = 2;
  c.intermediate = 6;
  c.max_positions = 16;
  c.num_labels = num_labels;
  c.dropout = c.attention_dropout = 0.0;
  return c;
}

}  // namespace

TEST_CASE("TextBatches: float32 scores for a regression model, int64 labels for a classifier") {
  const WordPieceTokenizer tok({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "plane",
                                "takes", "off", "man", "sings", "."});
  std::vector<TextExample> pairs(3);
  pairs[0] = {"a plane takes off .", "a plane .", 1, 4.5};
  pairs[1] = {"a man sings .", "a plane .", 0, 0.25};
  pairs[2] = {"a man .", "a man sings .", 1, 3.0};

  BertForSequenceClassification regression(tiny_text_config(1));
  TextBatches scores(regression, tok, pairs, 16, 2, /*shuffle=*/false, 1);
  TextBatches::Inputs in = scores.batch({0, 1, 2}, 0);
  REQUIRE(in.labels.dtype() == DType::Float32);
  CHECK(in.labels.to_vector<double>() == std::vector<double>{4.5, 0.25});
  Variable loss = sequence_classification_loss(regression.config(),
                                               regression.forward(in.ids, in.mask, in.types),
                                               in.labels);
  CHECK(loss.data().item() > 0);

  BertForSequenceClassification classifier(tiny_text_config(2));
  TextBatches labels(classifier, tok, pairs, 16, 2, false, 1);
  in = labels.batch({2, 0, 1}, 0);
  REQUIRE(in.labels.dtype() == DType::Int64);
  CHECK(in.labels.to_vector<int64_t>() == std::vector<int64_t>{1, 1});

  // An unlabelled test row (GLUE's test files: label -1, score NaN) has no target.
  std::vector<TextExample> unlabelled(1);
  unlabelled[0].a = "a man .";
  CHECK(mentions(thrown_message([&] { TextBatches(regression, tok, unlabelled, 16, 2, false, 1); }),
                 {"needs a score for every example", "example 0"}));
  CHECK(mentions(thrown_message([&] { TextBatches(classifier, tok, unlabelled, 16, 2, false, 1); }),
                 {"has no label"}));
}
