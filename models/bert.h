// BERT (Devlin et al. 2019) and RoBERTa (Liu et al. 2019) encoders for sequence
// classification, post-LayerNorm, exactly as Hugging Face's BertForSequenceClassification and
// RobertaForSequenceClassification, down to the parameter names, so published weights load as is:
//
//   h0 = LayerNorm(word[ids] + position[pos] + token_type[types])         [B, N, D]
//   for each layer:  h = LayerNorm(h + dense(attention(h, mask)))         (attention.output)
//                    h = LayerNorm(h + dense2(gelu(dense1(h))))           (intermediate, output)
//   bert:     logits = classifier(tanh(pooler.dense(h[:, 0])))           [B, classes]
//   roberta:  logits = classifier.out_proj(tanh(classifier.dense(h[:, 0])))
//
// mask: attention_mask [B, N] (1 token, 0 padding) becomes an additive key-padding mask, so no
// position attends to padding (nn/attention.h key_padding_mask). Positions: BERT 0..N-1;
// RoBERTa counts real tokens from pad_token_id + 1 and gives padding pad_token_id (HF's
// create_position_ids_from_input_ids); RoBERTa has one token type, always 0. As HF's
// nn.Embedding(padding_idx=pad_token_id), the word row pad_token_id (and RoBERTa's position row
// pad_token_id) gets no gradient, however often padding tokens are attended.
//
//   BertConfig config = bert_config_from_json(Json::parse(read_file("minilm/config.json")));
//   config.num_labels = 26;
//   BertForSequenceClassification model(config);
//   BertLoadReport r = load_bert_weights(model, "minilm/model.safetensors");
//   Variable logits = model.forward(input_ids, attention_mask);     // int64 [B, N] each
//   attach_peft(model, peft);   // qv: attention.self.query / value; qvmlp adds the MLP denses
//
// Module tree and names (HF's; P = "bert" or "roberta"):     D hidden, I intermediate, V vocab
//   P.embeddings.{word_embeddings [V,D], position_embeddings [max_pos,D],
//                 token_type_embeddings [types,D]}.weight, P.embeddings.LayerNorm.{weight,bias}
//   P.encoder.layer.{i}.attention.self.{query,key,value}.{weight [D,D],bias}
//   P.encoder.layer.{i}.attention.output.{dense,LayerNorm}.{weight,bias}
//   P.encoder.layer.{i}.intermediate.dense.{weight [I,D],bias}
//   P.encoder.layer.{i}.output.{dense [D,I],LayerNorm}.{weight,bias}
//   bert.pooler.dense.{weight,bias}   classifier.{weight,bias}                       (BERT)
//   classifier.dense.{weight,bias}   classifier.out_proj.{weight,bias}               (RoBERTa)
// Every Linear is held as a Layer and can be replaced by its dotted name (adapters).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/layer_norm.h"
#include "nn/attention.h"
#include "nn/module.h"
#include "nn/module_list.h"

namespace neat {

class Json;
struct SafetensorsFile;

struct BertConfig {
  std::string model_type = "bert";  // "bert" | "roberta"
  int64_t vocab_size = 30522;       // V
  int64_t hidden = 768;             // D
  int64_t layers = 12;
  int64_t heads = 12;
  int64_t intermediate = 3072;      // I
  int64_t max_positions = 512;      // rows of position_embeddings (RoBERTa: 514)
  int64_t type_vocab_size = 2;      // RoBERTa: 1
  int64_t pad_token_id = 0;         // RoBERTa: 1 (also its position padding_idx)
  int64_t num_labels = 2;
  double dropout = 0.1;             // hidden_dropout_prob
  double attention_dropout = 0.1;   // attention_probs_dropout_prob
  std::optional<double> classifier_dropout;  // the head's dropout; unset: hidden_dropout_prob
  // "" (inferred as transformers does: num_labels 1 is regression, more labels
  // single_label_classification), "regression" or "single_label_classification".
  std::string problem_type;
  double layer_norm_eps = 1e-12;
  double initializer_range = 0.02;
  uint64_t seed = 0;                // init, then the dropout stream

  bool is_roberta() const { return model_type == "roberta"; }
  // transformers' problem_type "regression": one output, trained with MSE (regression_loss).
  bool regression() const {
    return problem_type == "regression" || (problem_type.empty() && num_labels == 1);
  }
  double head_dropout() const { return classifier_dropout.value_or(dropout); }
  // "bert" or "roberta": the prefix of the backbone's parameter names.
  const std::string& prefix() const { return model_type; }
  // Errors naming the field: sizes positive, hidden divisible by heads, a known model_type,
  // a problem_type this model computes and that fits num_labels.
  void validate() const;
  std::string str() const;  // "bert: vocab 30522, hidden 768, layers 12, ..."
};

// From a Hugging Face config.json (vocab_size, hidden_size, num_hidden_layers,
// num_attention_heads, intermediate_size, max_position_embeddings, type_vocab_size,
// pad_token_id, hidden_dropout_prob, attention_probs_dropout_prob, classifier_dropout,
// layer_norm_eps, initializer_range, num_labels or id2label, problem_type, model_type).
// A field that changes transformers' computation in a way this model does not implement is an
// error naming it and its value: hidden_act other than "gelu", position_embedding_type other
// than "absolute", is_decoder / add_cross_attention / is_encoder_decoder true, pruned_heads,
// pad_token_id null, problem_type multi_label_classification (docs/text.md lists every field).
// Missing fields keep BertConfig's defaults; fields without effect on an encoder classifier
// (use_cache, bos/eos_token_id, chunk_size_feed_forward, ...) and unknown ones are ignored, as
// transformers ignores them.
BertConfig bert_config_from_json(const Json& json);

// The Hugging Face parameter names of a *ForSequenceClassification with this config, in
// registration order (what named_parameters() of a fresh model returns).
std::vector<std::string> bert_parameter_names(const BertConfig& config);

// ---- the module tree, one class per Hugging Face module ------------------------------------

// ids [B, N] (+ token types [B, N]) -> LayerNorm(word + position + token type), dropout.
class BertEmbeddings : public Module {
 public:
  BertEmbeddings(const BertConfig& config, std::shared_ptr<Generator> gen);
  // token_type_ids may be undefined (all 0). Errors: N beyond the position table.
  Variable forward(const Tensor& input_ids, const Tensor& token_type_ids);
  std::string type_name() const override { return "BertEmbeddings"; }
  // The position ids of a batch: BERT 0..N-1 per row; RoBERTa as described at the top.
  Tensor position_ids(const Tensor& input_ids) const;

  std::shared_ptr<Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<LayerNorm> layer_norm;  // "LayerNorm"
  std::shared_ptr<Dropout> dropout;
  // The dtype the embeddings' sum is cast to before LayerNorm, so every activation after it has
  // it (bfloat16 under --precision bf16, train/precision.h, even when the embeddings are float32
  // masters that train). Unset (the default): the embeddings' own dtype.
  std::optional<DType> activation_dtype;

 private:
  bool roberta_;
  int64_t pad_token_id_;
};

// HF BertSelfOutput and BertOutput: y = LayerNorm(dropout(dense(h)) + residual).
class BertResidualOutput : public Module {
 public:
  BertResidualOutput(int64_t in, const BertConfig& config, std::shared_ptr<Generator> gen,
                     const std::string& hf_type);
  Variable forward(const Variable& h, const Variable& residual);
  std::string type_name() const override { return type_; }
  std::shared_ptr<Layer> dense;
  std::shared_ptr<LayerNorm> layer_norm;  // "LayerNorm"
  std::shared_ptr<Dropout> dropout;

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;

 private:
  std::string type_;
};

// HF BertIntermediate: y = gelu(dense(x)), D -> I.
class BertIntermediate : public Layer {
 public:
  BertIntermediate(const BertConfig& config, Generator& gen);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "BertIntermediate"; }
  std::shared_ptr<Layer> dense;

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;
};

// HF BertLayer: attention (self, output), then intermediate and output, post-LayerNorm.
class BertLayer : public Module {
 public:
  BertLayer(const BertConfig& config, std::shared_ptr<Generator> gen);
  Variable forward(const Variable& h, const Tensor& mask);  // [B, N, D] -> [B, N, D]
  std::string type_name() const override { return "BertLayer"; }
  std::shared_ptr<Module> attention;  // holds "self" and "output"
  std::shared_ptr<MultiHeadSelfAttention> self_attention;   // HF BertSelfAttention
  std::shared_ptr<BertResidualOutput> attention_output;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertResidualOutput> output;
};

// HF BertModel: embeddings, encoder.layer.{i}, and (BERT only) pooler.dense.
class BertModel : public Module {
 public:
  BertModel(const BertConfig& config, std::shared_ptr<Generator> gen);
  // input_ids int64 [B, N]; attention_mask [B, N] 1/0 or undefined (no padding);
  // token_type_ids int64 [B, N] or undefined -> last hidden state [B, N, D].
  Variable forward(const Tensor& input_ids, const Tensor& attention_mask,
                   const Tensor& token_type_ids);
  std::string type_name() const override { return "BertModel"; }
  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<Module> encoder;  // holds "layer"
  std::vector<std::shared_ptr<BertLayer>> layers;
  std::shared_ptr<Module> pooler;   // holds "dense"; null for RoBERTa
  std::shared_ptr<Layer> pooler_dense;
};

// HF RobertaClassificationHead: x [B, D] -> out_proj(dropout(tanh(dense(dropout(x))))).
class RobertaClassificationHead : public Layer {
 public:
  RobertaClassificationHead(const BertConfig& config, std::shared_ptr<Generator> gen);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "RobertaClassificationHead"; }
  std::shared_ptr<Layer> dense, out_proj;
  std::shared_ptr<Dropout> dropout;

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;
};

class BertForSequenceClassification : public Module {
 public:
  // Initialised like HF (normal std initializer_range truncated at +-2, zero biases, the
  // padding rows zero: word_embeddings' row pad_token_id, and RoBERTa's position row too;
  // LayerNorm 1/0) from Generator(config.seed); the same generator then drives every Dropout.
  explicit BertForSequenceClassification(const BertConfig& config);
  // -> logits [B, num_labels]
  Variable forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                   const Tensor& token_type_ids = Tensor());
  // The classifier's input [B, D]: BERT the pooled output, RoBERTa the first token's state.
  Variable features(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                    const Tensor& token_type_ids = Tensor());
  std::string type_name() const override {
    return config_.is_roberta() ? "RobertaForSequenceClassification"
                                : "BertForSequenceClassification";
  }

  const BertConfig& config() const { return config_; }
  // The dtype of every activation (BertEmbeddings::activation_dtype).
  void set_activation_dtype(DType dtype) { backbone->embeddings->activation_dtype = dtype; }
  Generator& generator() { return *gen_; }
  const std::shared_ptr<Generator>& shared_generator() const { return gen_; }

  std::shared_ptr<BertModel> backbone;  // registered as "bert" or "roberta"
  std::shared_ptr<Layer> classifier;    // Linear(D, labels) or RobertaClassificationHead

 protected:
  void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) override;

 private:
  BertConfig config_;
  std::shared_ptr<Generator> gen_;
};

// ---- the loss, as transformers' *ForSequenceClassification computes it -------------------

// problem_type "regression" (num_labels 1): MSE of logits.squeeze(-1) [B] against float
// targets [B] (any float dtype and device: converted to the logits').
Variable regression_loss(const Variable& logits, const Tensor& targets);
// By config.regression(): regression_loss on float targets [B], else cross_entropy on int64
// labels [B] (single_label_classification). The wrong kind of targets is an error saying which.
//   Variable loss = sequence_classification_loss(model.config(), model.forward(ids, mask), y);
Variable sequence_classification_loss(const BertConfig& config, const Variable& logits,
                                      const Tensor& targets);

// ---- pretrained weights ----------------------------------------------------------------------

struct BertLoadReport {
  int64_t loaded = 0;              // tensors copied into the model
  bool classifier_loaded = false;  // false: the file had none or another label count
  bool pooler_loaded = false;      // BERT: false when the file has no pooler (init kept)
  std::vector<std::string> unused; // file tensors the model did not take (position_ids
                                   // buffers excepted)
  std::vector<std::string> messages;
  std::string str() const;
};

// Loads Hugging Face weights by name, with the "bert." / "roberta." prefix
// (*ForSequenceClassification) or without (BertModel / RobertaModel, sentence-transformers).
// The classifier keeps its init when the file has none or another label count; a missing
// backbone tensor, or one of another shape, is an error naming it and both shapes. Tensors of
// other dtypes are converted to the model's. Files with another prefix (e.g. a RoBERTa file
// into a BERT model) are an error saying so.
BertLoadReport load_bert_weights(BertForSequenceClassification& model,
                                 const std::map<std::string, Tensor>& tensors);
BertLoadReport load_bert_weights(BertForSequenceClassification& model, const std::string& path);

}  // namespace neat
