// Tests for nn/embedding and models/bert: the Embedding lookup and its gradient, the key
// padding mask (values, padding invariance, float64 gradient check through masked attention),
// Hugging Face's parameter names for BERT and RoBERTa, RoBERTa's position ids, loading with
// and without the backbone prefix, clear errors, config.json parsing, and attach_peft's qv /
// qvmlp targets on BERT names.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "autograd/shape_ops.h"
#include "models/bert.h"
#include "tensor/embedding.h"
#include "tensor/gpu.h"
#include "tensor/shape_ops.h"
#include "nn/attention.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "autograd/gradcheck.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"

using namespace neat;
using neat::test::max_abs_diff;
using neat::test::random64;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

Tensor ids_tensor(const std::vector<std::vector<int64_t>>& rows) {
  const int64_t B = int64_t(rows.size()), N = int64_t(rows[0].size());
  Tensor t({B, N}, DType::Int64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n) t.data<int64_t>()[b * N + n] = rows[b][n];
  return t;
}

// A tiny odd config: every size distinct so a transposed weight cannot pass.
BertConfig tiny(const std::string& type) {
  BertConfig c;
  c.model_type = type;
  c.vocab_size = 13;
  c.hidden = 6;
  c.layers = 2;
  c.heads = 2;
  c.intermediate = 10;
  c.max_positions = 12;
  c.type_vocab_size = type == "roberta" ? 1 : 2;
  c.pad_token_id = type == "roberta" ? 1 : 0;
  c.num_labels = 3;
  c.dropout = c.attention_dropout = 0.0;
  c.initializer_range = 0.5;  // large weights: attention far from uniform
  c.seed = 7;
  return c;
}

}  // namespace

TEST_CASE("Embedding: rows of the table, errors, gradient") {
  Embedding table(5, 3, 1);
  Tensor ids = ids_tensor({{4, 0, 4}, {2, 2, 1}});
  Variable out = table.forward(ids);
  REQUIRE(out.shape() == Shape{2, 3, 3});
  for (int64_t d = 0; d < 3; ++d) {
    CHECK(out.data().at({0, 0, d}) == table.weight.data().at({4, d}));
    CHECK(out.data().at({1, 2, d}) == table.weight.data().at({1, d}));
  }
  CHECK(mentions(thrown_message([&] { table.forward(ids_tensor({{5}})); }),
                 {"Embedding: id 5", "5 rows"}));
  CHECK(mentions(thrown_message([&] { table.forward(zeros({2})); }), {"int64", "float32"}));

  // Repeated ids (4 twice, 2 twice) accumulate their gradients.
  table.to(DType::Float64);
  GradcheckResult r =
      gradcheck(table.named_parameters(), [&] { return table.forward(ids); });
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("Embedding: padding_idx, as torch: the row is looked up, its gradient is exactly 0") {
  // torch.nn.Embedding(5, 3, padding_idx=2): the padding row starts at zero and gets no
  // gradient however often it is looked up; the other rows get index_add's sums.
  Embedding table(5, 3, 1, /*padding_idx=*/2);
  CHECK(table.padding_idx() == 2);
  for (int64_t d = 0; d < 3; ++d) CHECK(table.weight.data().at({2, d}) == 0.0);
  table.to(DType::Float64);
  {
    NoGradGuard no_grad;  // a non-zero padding vector, as a pretrained table has
    for (int64_t d = 0; d < 3; ++d) table.weight.data().set({2, d}, 0.5 + double(d));
  }
  const Tensor ids = ids_tensor({{2, 4, 2}, {1, 2, 4}});
  Variable out = table.forward(ids);
  CHECK(out.data().at({0, 0, 1}) == 1.5);  // the padding vector is looked up as it is
  const Tensor dy = random64({2, 3, 3}, 5);
  out.backward(dy);
  const Tensor want = index_add({5, 3}, 0, ids.reshape({6}), dy.reshape({6, 3}));
  const Tensor got = table.weight.grad();
  for (int64_t v = 0; v < 5; ++v)
    for (int64_t d = 0; d < 3; ++d) {
      CAPTURE(v);
      CHECK(got.at({v, d}) == (v == 2 ? 0.0 : want.at({v, d})));
    }
  CHECK(want.at({2, 0}) != 0.0);  // without padding_idx the row would have had a gradient
  CHECK(mentions(thrown_message([] { Embedding(5, 3, 0, 5); }), {"padding_idx 5", "5"}));
  CHECK(mentions(thrown_message([&] { embedding_backward(dy.reshape({6, 3}), ids.reshape({6}), 5, 7); }),
                 {"padding_idx 7"}));
  CHECK(mentions(thrown_message([&] {
                   embedding_backward(dy.reshape({6, 3}), from_vector(std::vector<int64_t>{0, 1, 2, 3, 9, 0}), 5, -1);
                 }),
                 {"id 9 at position 4", "5 rows"}));
}

TEST_CASE("Embedding: padding_idx on CUDA gives the CPU's gradient, the padding row 0") {
  if (!cuda_available()) return neat::test::skip(cuda_unavailable_reason());
  const Tensor ids = ids_tensor({{3, 0, 3, 3}, {1, 3, 0, 2}}).reshape({8});
  const Tensor dy = random64({8, 70}, 9).to(DType::Float32);
  const Tensor want = embedding_backward(dy, ids, 4, 3);
  const Tensor got = embedding_backward(dy.to(Device::CUDA), ids.to(Device::CUDA), 4, 3);
  CHECK(max_abs_diff(got.to(Device::CPU).to(DType::Float64), want.to(DType::Float64)) == 0.0);
  const std::vector<double> g = got.to(Device::CPU).to_vector<double>();
  for (int64_t d = 0; d < 70; ++d) CHECK(g[size_t(3 * 70 + d)] == 0.0);
}

TEST_CASE("key_padding_mask: 0 for tokens, the dtype's lowest for padding") {
  Tensor m = key_padding_mask(ids_tensor({{1, 1, 0}, {1, 0, 0}}), DType::Float64);
  REQUIRE(m.shape() == Shape{2, 1, 1, 3});
  CHECK(m.at({0, 0, 0, 1}) == 0.0);
  CHECK(m.at({0, 0, 0, 2}) == std::numeric_limits<double>::lowest());
  CHECK(m.at({1, 0, 0, 1}) == std::numeric_limits<double>::lowest());
  CHECK(key_padding_mask(ids_tensor({{0}}), DType::Float32).at({0, 0, 0, 0}) ==
        double(std::numeric_limits<float>::lowest()));
  // bf16's own lowest, -(2 - 2^-7) 2^127 = -3.3895e38, finite: float32's lowest would round to
  // -inf there, and a query row whose keys are all padding would then give NaN.
  const Tensor bf16 = key_padding_mask(ids_tensor({{1, 0}}), DType::BFloat16);
  CHECK(bf16.dtype() == DType::BFloat16);
  CHECK(bf16.at({0, 0, 0, 1}) == -std::ldexp(2.0 - std::ldexp(1.0, -7), 127));
  CHECK(std::isfinite(bf16.at({0, 0, 0, 1})));
  CHECK(mentions(thrown_message([] { key_padding_mask(ids_tensor({{2}}), DType::Float32); }),
                 {"is 2, not 0 or 1"}));
}

TEST_CASE("gradcheck of masked multi-head attention (float64)") {
  // Padding keys get no attention: changing them leaves every output row unchanged, and the
  // gradient of q, k, v matches central differences with the mask in place.
  Tensor mask = key_padding_mask(ids_tensor({{1, 1, 1, 0}, {1, 1, 0, 0}}), DType::Float64);
  auto f = [&](const std::vector<Variable>& in) {
    return multi_head_attention(in[0], in[1], in[2], 2, 0.0, false, nullptr, mask);
  };
  neat::test::check_gradients(f, {random64({2, 4, 6}, 1), random64({2, 4, 6}, 2),
                                  random64({2, 4, 6}, 3)});
  // The composed (dropout) path with p = 0 of the training branch takes the same mask.
  Generator gen(3);
  Tensor q = random64({2, 4, 6}, 1), k = random64({2, 4, 6}, 2), v = random64({2, 4, 6}, 3);
  Variable fused = multi_head_attention(Variable(q), Variable(k), Variable(v), 2, 0.0, false,
                                        nullptr, mask);
  Tensor k2 = k.clone(), v2 = v.clone();
  for (int64_t d = 0; d < 6; ++d) {
    k2.set({0, 3, d}, 5.0);
    v2.set({1, 2, d}, -7.0);
  }
  Variable moved = multi_head_attention(Variable(q), Variable(k2), Variable(v2), 2, 0.0, false,
                                        nullptr, mask);
  CHECK(max_abs_diff(fused.data(), moved.data()) < 1e-15);
}

TEST_CASE("bert: Hugging Face names for BERT and RoBERTa, in registration order") {
  for (const char* type : {"bert", "roberta"}) {
    BertForSequenceClassification model(tiny(type));
    std::vector<std::string> names;
    for (auto& [name, p] : model.named_parameters()) names.push_back(name);
    CHECK(names == bert_parameter_names(tiny(type)));
  }
  std::vector<std::string> b = bert_parameter_names(tiny("bert"));
  CHECK(b[5] == "bert.encoder.layer.0.attention.self.query.weight");
  CHECK(b[14] == "bert.encoder.layer.0.attention.output.LayerNorm.bias");
  CHECK(b.back() == "classifier.bias");
  std::vector<std::string> r = bert_parameter_names(tiny("roberta"));
  CHECK(r.back() == "classifier.out_proj.bias");
  CHECK(std::find(r.begin(), r.end(), "roberta.pooler.dense.weight") == r.end());
  // The padding rows start at zero, like HF's padding_idx: the word row, and RoBERTa's
  // position row; BERT's position table has none.
  BertForSequenceClassification roberta(tiny("roberta")), bert(tiny("bert"));
  CHECK(roberta.parameter("roberta.embeddings.word_embeddings.weight").data().at({1, 4}) == 0.0);
  CHECK(roberta.parameter("roberta.embeddings.position_embeddings.weight").data().at({1, 4}) == 0.0);
  CHECK(roberta.backbone->embeddings->position_embeddings->padding_idx() == 1);
  CHECK(roberta.backbone->embeddings->word_embeddings->padding_idx() == 1);
  CHECK(bert.backbone->embeddings->word_embeddings->padding_idx() == 0);
  CHECK(!bert.backbone->embeddings->position_embeddings->padding_idx());
  CHECK(!bert.backbone->embeddings->token_type_embeddings->padding_idx());
}

TEST_CASE("bert: RoBERTa positions count real tokens from pad + 1") {
  BertForSequenceClassification roberta(tiny("roberta")), bert(tiny("bert"));
  Tensor ids = ids_tensor({{0, 5, 6, 2, 1, 1}, {0, 7, 2, 1, 1, 1}});
  CHECK(roberta.backbone->embeddings->position_ids(ids).to_vector<int64_t>() ==
        std::vector<int64_t>{2, 3, 4, 5, 1, 1, 2, 3, 4, 1, 1, 1});
  CHECK(bert.backbone->embeddings->position_ids(ids).to_vector<int64_t>() ==
        std::vector<int64_t>{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5});
  CHECK(mentions(thrown_message([&] { bert.forward(ids_tensor({std::vector<int64_t>(13, 3)})); }),
                 {"13 tokens needs position 12", "12 positions"}));
}

TEST_CASE("bert: padding changes nothing for the real tokens (BERT and RoBERTa)") {
  for (const char* type : {"bert", "roberta"}) {
    INFO(type);
    BertConfig config = tiny(type);
    const int64_t pad = config.pad_token_id;
    BertForSequenceClassification model(config);
    model.eval();
    Tensor alone = model.forward(ids_tensor({{3, 4, 5}}), ids_tensor({{1, 1, 1}})).data();
    Tensor padded = model.forward(ids_tensor({{3, 4, 5, pad, pad}, {6, 7, 8, 9, 10}}),
                                  ids_tensor({{1, 1, 1, 0, 0}, {1, 1, 1, 1, 1}}))
                        .data();
    CHECK(max_abs_diff(alone, narrow(padded, 0, 0, 1)) < 1e-6);
  }
}

TEST_CASE("bert: gradcheck of the whole model with padding (float64, BERT and RoBERTa)") {
  for (const char* type : {"bert", "roberta"}) {
    INFO(type);
    BertConfig config = tiny(type);
    config.layers = 1;
    BertForSequenceClassification model(config);
    model.to(DType::Float64);
    const int64_t pad = config.pad_token_id;
    Tensor ids = ids_tensor({{2, 5, 5, pad}, {7, 3, 11, 4}});
    Tensor mask = ids_tensor({{1, 1, 1, 0}, {1, 1, 1, 1}});
    Tensor types = ids_tensor({{0, 0, config.type_vocab_size - 1, 0}, {0, 0, 0, 0}});
    GradcheckResult r = gradcheck(
        model.named_parameters(), [&] { return model.forward(ids, mask, types); });
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("bert: loading with or without the prefix, classifier kept, clear errors") {
  for (const char* type : {"bert", "roberta"}) {
    INFO(type);
    BertConfig config = tiny(type);
    BertForSequenceClassification source(config);
    source.eval();
    Tensor ids = ids_tensor({{2, 5, 6, 3}});
    Tensor expected = source.forward(ids).data();
    const std::string prefix = std::string(type) + ".";

    std::map<std::string, Tensor> full = source.state_dict(), bare;
    for (auto& [name, t] : full)
      if (name.rfind(prefix, 0) == 0) bare[name.substr(prefix.size())] = t;
    bare["embeddings.position_ids"] = zeros({1, 12}, DType::Int64);  // HF's buffer: ignored

    config.seed = 99;
    BertForSequenceClassification with(config), without(config);
    with.eval();
    without.eval();
    BertLoadReport r = load_bert_weights(with, full);
    CHECK(r.classifier_loaded);
    CHECK(r.unused.empty());
    CHECK(max_abs_diff(with.forward(ids).data(), expected) == 0.0);
    BertLoadReport r2 = load_bert_weights(without, bare);
    CHECK_FALSE(r2.classifier_loaded);
    CHECK(r2.unused.empty());
    CHECK(r2.str().find("kept its initialisation") != std::string::npos);
    // Same backbone: the classifier's input agrees.
    CHECK(max_abs_diff(without.features(ids).data(), with.features(ids).data()) == 0.0);

    std::map<std::string, Tensor> broken = bare;
    broken.erase("encoder.layer.1.output.dense.weight");
    CHECK(mentions(thrown_message([&] { load_bert_weights(without, broken); }),
                   {"no '" + prefix + "encoder.layer.1.output.dense.weight'"}));
    broken = bare;
    broken["encoder.layer.0.intermediate.dense.weight"] = zeros({6, 10});
    CHECK(mentions(thrown_message([&] { load_bert_weights(without, broken); }),
                   {"'encoder.layer.0.intermediate.dense.weight' has shape [6, 10]", "[10, 6]"}));
  }
  BertForSequenceClassification bert(tiny("bert"));
  BertForSequenceClassification roberta(tiny("roberta"));
  CHECK(mentions(thrown_message([&] { load_bert_weights(bert, roberta.state_dict()); }),
                 {"holds a roberta model, not a bert one"}));
}

TEST_CASE("bert: config.json fields, and errors") {
  Json j = Json::parse(R"({"model_type": "bert", "vocab_size": 100, "hidden_size": 12,
      "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 20,
      "max_position_embeddings": 64, "type_vocab_size": 2, "pad_token_id": 0,
      "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.2, "layer_norm_eps": 1e-12,
      "hidden_act": "gelu", "id2label": {"0": "a", "1": "b", "2": "c"}})");
  BertConfig c = bert_config_from_json(j);
  CHECK(c.vocab_size == 100);
  CHECK(c.hidden == 12);
  CHECK(c.layers == 3);
  CHECK(c.heads == 4);
  CHECK(c.intermediate == 20);
  CHECK(c.max_positions == 64);
  CHECK(c.attention_dropout == 0.2);
  CHECK(c.num_labels == 3);
  CHECK(mentions(thrown_message([] {
                   bert_config_from_json(Json::parse(R"({"hidden_act": "relu"})"));
                 }),
                 {"hidden_act 'relu' is not supported"}));
  CHECK(mentions(thrown_message([] {
                   bert_config_from_json(Json::parse(R"({"hidden_size": 10, "num_attention_heads": 3})"));
                 }),
                 {"hidden 10 is not divisible by heads 3"}));
}

TEST_CASE("bert: config fields the model does not compute are refused with name and value") {
  auto refused = [](const std::string& field, const std::vector<std::string>& says) {
    CAPTURE(field);
    CHECK(mentions(thrown_message([&] { bert_config_from_json(Json::parse("{" + field + "}")); }),
                   says));
  };
  refused(R"("position_embedding_type": "relative_key")",
          {"position_embedding_type 'relative_key' is not supported", "absolute"});
  refused(R"("position_embedding_type": "relative_key_query")", {"'relative_key_query'"});
  refused(R"("is_decoder": true)", {"is_decoder true"});
  refused(R"("add_cross_attention": true)", {"add_cross_attention true"});
  refused(R"("is_encoder_decoder": true)", {"is_encoder_decoder true"});
  refused(R"("pruned_heads": {"0": [1]})", {"pruned_heads"});
  refused(R"("pad_token_id": null)", {"pad_token_id null"});
  refused(R"("hidden_act": "gelu_new")", {"hidden_act 'gelu_new'"});
  refused(R"("problem_type": "multi_label_classification")",
          {"problem_type 'multi_label_classification'"});
  refused(R"("problem_type": "regression", "num_labels": 3)", {"regression needs num_labels 1"});
  refused(R"("problem_type": "single_label_classification", "num_labels": 1)",
          {"num_labels > 1"});
  refused(R"("classifier_dropout": 1.5)", {"classifier_dropout 1.5"});

  // What the model computes, or what changes nothing in an encoder classifier, is accepted:
  // MiniLM's config.json fields, RoBERTa's token ids, chunked feed-forward (the same math).
  BertConfig c = bert_config_from_json(Json::parse(R"({"position_embedding_type": "absolute",
      "is_decoder": false, "add_cross_attention": false, "use_cache": true, "bos_token_id": 0,
      "eos_token_id": 2, "chunk_size_feed_forward": 64, "gradient_checkpointing": false,
      "architectures": ["BertModel"], "transformers_version": "4.8.2", "torch_dtype": "float32",
      "pruned_heads": {}, "classifier_dropout": null, "tie_word_embeddings": true})"));
  CHECK(!c.classifier_dropout);
  CHECK(!c.regression());
  CHECK(c.head_dropout() == c.dropout);
  // problem_type: num_labels 1 is regression, as transformers infers it; classifier_dropout
  // sets the head's dropout (BERT's "dropout" before the classifier, RoBERTa's head).
  c = bert_config_from_json(Json::parse(R"({"num_labels": 1, "classifier_dropout": 0.3})"));
  CHECK(c.regression());
  CHECK(c.head_dropout() == 0.3);
  CHECK(bert_config_from_json(Json::parse(R"({"problem_type": "regression", "num_labels": 1})"))
            .regression());
  for (const char* type : {"bert", "roberta"}) {
    BertConfig t = tiny(type);
    t.dropout = 0.1;
    t.classifier_dropout = 0.4;
    BertForSequenceClassification model(t);
    auto head = std::static_pointer_cast<Dropout>(
        model.module(t.is_roberta() ? "classifier.dropout" : "dropout"));
    CHECK(head->p() == 0.4);
  }
}

TEST_CASE("bert: num_labels 1 is regression, MSE on logits.squeeze(-1) as transformers") {
  Variable logits(from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3, 1}), true);
  const Tensor scores = from_vector(std::vector<float>{1.5f, 0.0f, 2.5f});
  BertConfig c = tiny("bert");
  c.num_labels = 1;
  Variable loss = sequence_classification_loss(c, logits, scores);
  // ((0.5 - 1.5)^2 + (-1 - 0)^2 + (2 - 2.5)^2) / 3 = 2.25 / 3; d/dz = 2 (z - t) / 3
  CHECK(loss.data().item() == doctest::Approx(0.75).epsilon(1e-15));
  loss.backward();
  const std::vector<double> want = {2 * -1.0 / 3, 2 * -1.0 / 3, 2 * -0.5 / 3};
  const std::vector<double> got = logits.grad().to_vector<double>();
  for (size_t i = 0; i < 3; ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-15));
  CHECK(mentions(thrown_message([&] { regression_loss(logits, from_vector(std::vector<int64_t>{1, 0, 2})); }),
                 {"targets int64 [3]", "float [3]"}));
  CHECK(mentions(thrown_message([&] { regression_loss(Variable(zeros({3, 2})), scores); }),
                 {"logits [3, 2]", "[B, 1]"}));
  c.num_labels = 3;
  CHECK(mentions(thrown_message([&] { sequence_classification_loss(c, Variable(zeros({3, 3})), scores); }),
                 {"3 labels takes int64 labels, got float32"}));
}

TEST_CASE("bert: attach_peft qv and qvmlp find BERT's query/value and MLP Linears") {
  for (const char* targets : {"qv", "qvmlp"}) {
    BertForSequenceClassification model(tiny("bert"));
    PeftConfig peft;
    peft.method = "neat";
    peft.targets = targets;
    peft.neat.rank = 2;
    PeftReport r = attach_peft(model, peft);
    const size_t per_layer = std::string(targets) == "qv" ? 2 : 4;
    REQUIRE(r.adapted.size() == per_layer * 2);
    CHECK(r.adapted[0] == "bert.encoder.layer.0.attention.self.query");
    CHECK(r.adapted[1] == "bert.encoder.layer.0.attention.self.value");
    if (per_layer == 4) {
      CHECK(r.adapted[2] == "bert.encoder.layer.0.intermediate.dense");
      CHECK(r.adapted[3] == "bert.encoder.layer.0.output.dense");
    }
    CHECK(model.parameter("classifier.weight").requires_grad());
    CHECK_FALSE(model.parameter("bert.pooler.dense.weight").requires_grad());
    model.eval();
    CHECK(model.forward(ids_tensor({{2, 3}})).shape() == Shape{1, 3});
  }
  BertForSequenceClassification roberta(tiny("roberta"));
  PeftConfig lora;
  lora.method = "lora";
  PeftReport r = attach_peft(roberta, lora);
  CHECK(r.adapted.size() == 4);
  CHECK(roberta.parameter("classifier.out_proj.weight").requires_grad());
  CHECK(roberta.parameter("classifier.dense.weight").requires_grad());
}
