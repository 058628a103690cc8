#include "models/bert.h"

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

#include "autograd/cast.h"
#include "autograd/elementwise.h"
#include "autograd/nn_functional.h"
#include "autograd/shape_ops.h"
#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"

namespace neat {

// ---- config ----------------------------------------------------------------------------------

void BertConfig::validate() const {
  NEAT_CHECK(model_type == "bert" || model_type == "roberta", "BertConfig: model_type '",
             model_type, "' is neither bert nor roberta");
  auto positive = [](int64_t v, const char* field) {
    NEAT_CHECK(v > 0, "BertConfig: ", field, " must be positive, got ", v);
  };
  positive(vocab_size, "vocab_size");
  positive(hidden, "hidden");
  positive(layers, "layers");
  positive(heads, "heads");
  positive(intermediate, "intermediate");
  positive(max_positions, "max_positions");
  positive(type_vocab_size, "type_vocab_size");
  positive(num_labels, "num_labels");
  NEAT_CHECK(hidden % heads == 0, "BertConfig: hidden ", hidden, " is not divisible by heads ",
             heads);
  NEAT_CHECK(pad_token_id >= 0 && pad_token_id < vocab_size, "BertConfig: pad_token_id ",
             pad_token_id, " is outside the vocabulary of ", vocab_size);
  NEAT_CHECK(!is_roberta() || max_positions > pad_token_id + 1, "BertConfig: RoBERTa needs ",
             "max_positions > pad_token_id + 1, got ", max_positions);
  NEAT_CHECK(dropout >= 0 && dropout < 1 && attention_dropout >= 0 && attention_dropout < 1,
             "BertConfig: dropout probabilities must be in [0, 1), got ", dropout, " and ",
             attention_dropout);
  NEAT_CHECK(layer_norm_eps >= 0 && initializer_range > 0,
             "BertConfig: need layer_norm_eps >= 0 and initializer_range > 0");
  NEAT_CHECK(!classifier_dropout || (*classifier_dropout >= 0 && *classifier_dropout < 1),
             "BertConfig: classifier_dropout ", classifier_dropout.value_or(0),
             " must be in [0, 1)");
  NEAT_CHECK(problem_type.empty() || problem_type == "regression" ||
                 problem_type == "single_label_classification",
             "BertConfig: problem_type '", problem_type, "' is not supported (only ",
             "single_label_classification and regression; multi_label_classification's ",
             "binary cross-entropy is not implemented)");
  NEAT_CHECK(problem_type != "regression" || num_labels == 1, "BertConfig: problem_type ",
             "regression needs num_labels 1 (one score), got ", num_labels);
  NEAT_CHECK(problem_type != "single_label_classification" || num_labels > 1, "BertConfig: ",
             "problem_type single_label_classification needs num_labels > 1, got ", num_labels,
             " (num_labels 1 is regression)");
}

std::string BertConfig::str() const {
  std::ostringstream s;
  s << model_type << ": vocab " << vocab_size << ", hidden " << hidden << ", layers " << layers
    << ", heads " << heads << ", intermediate " << intermediate << ", positions "
    << max_positions << ", token types " << type_vocab_size << ", labels " << num_labels
    << ", dropout " << dropout << ", attention dropout " << attention_dropout;
  if (classifier_dropout) s << ", classifier dropout " << *classifier_dropout;
  if (regression()) s << ", regression";
  return s.str();
}

namespace {

// The config.json fields that change transformers' computation and that this model does not
// implement: each must be absent or have the value the model computes (docs/text.md lists
// every BertConfig / RobertaConfig field and what is done with it).
void refuse_unimplemented(const Json& json) {
  auto text = [&](const char* key, const char* want, const char* why) {
    if (!json.contains(key) || json[key].is_null()) return;
    const Json& v = json[key];
    NEAT_CHECK(v.is_string() && v.as_string() == want, "bert config: ", key, " ",
               v.is_string() ? "'" + v.as_string() + "'" : v.dump(), " is not supported (only '",
               want, "': ", why, ")");
  };
  auto off = [&](const char* key, const char* why) {
    if (!json.contains(key) || json[key].is_null()) return;
    const Json& v = json[key];
    NEAT_CHECK(v.kind() == Json::Kind::Bool && !v.as_bool(), "bert config: ", key, " ", v.dump(),
               " is not supported (only false: ", why, ")");
  };
  text("hidden_act", "gelu", "the exact erf GELU");
  text("position_embedding_type", "absolute",
       "relative_key and relative_key_query attention scores are not implemented");
  off("is_decoder", "a causal decoder is not implemented");
  off("add_cross_attention", "cross-attention is not implemented");
  off("is_encoder_decoder", "an encoder-decoder is not implemented");
  if (json.contains("pruned_heads") && !json["pruned_heads"].is_null()) {
    const Json& heads = json["pruned_heads"];
    NEAT_CHECK(heads.is_object() && heads.size() == 0, "bert config: pruned_heads ",
               heads.dump(), " is not supported (only {}: every layer keeps all its heads)");
  }
  NEAT_CHECK(!json.contains("pad_token_id") || !json["pad_token_id"].is_null(),
             "bert config: pad_token_id null is not supported (the padding row and RoBERTa's ",
             "positions need a padding id)");
}

}  // namespace

BertConfig bert_config_from_json(const Json& json) {
  refuse_unimplemented(json);
  BertConfig c;
  auto integer = [&](const char* key, int64_t& field) {
    if (json.contains(key)) field = json[key].as_int();
  };
  auto number = [&](const char* key, double& field) {
    if (json.contains(key) && json[key].is_number()) field = json[key].as_number();
  };
  if (json.contains("model_type")) c.model_type = json["model_type"].as_string();
  integer("vocab_size", c.vocab_size);
  integer("hidden_size", c.hidden);
  integer("num_hidden_layers", c.layers);
  integer("num_attention_heads", c.heads);
  integer("intermediate_size", c.intermediate);
  integer("max_position_embeddings", c.max_positions);
  integer("type_vocab_size", c.type_vocab_size);
  integer("pad_token_id", c.pad_token_id);
  number("hidden_dropout_prob", c.dropout);
  number("attention_probs_dropout_prob", c.attention_dropout);
  number("layer_norm_eps", c.layer_norm_eps);
  number("initializer_range", c.initializer_range);
  if (json.contains("classifier_dropout") && !json["classifier_dropout"].is_null())
    c.classifier_dropout = json["classifier_dropout"].as_number();
  if (json.contains("problem_type") && !json["problem_type"].is_null())
    c.problem_type = json["problem_type"].as_string();
  if (json.contains("id2label")) c.num_labels = int64_t(json["id2label"].size());
  integer("num_labels", c.num_labels);
  c.validate();
  return c;
}

std::vector<std::string> bert_parameter_names(const BertConfig& config) {
  const std::string p = config.prefix() + ".";
  std::vector<std::string> names = {
      p + "embeddings.word_embeddings.weight", p + "embeddings.position_embeddings.weight",
      p + "embeddings.token_type_embeddings.weight", p + "embeddings.LayerNorm.weight",
      p + "embeddings.LayerNorm.bias"};
  const char* layer_modules[] = {"attention.self.query",      "attention.self.key",
                                 "attention.self.value",      "attention.output.dense",
                                 "attention.output.LayerNorm", "intermediate.dense",
                                 "output.dense",              "output.LayerNorm"};
  for (int64_t i = 0; i < config.layers; ++i)
    for (const char* m : layer_modules)
      for (const char* w : {"weight", "bias"})
        names.push_back(p + "encoder.layer." + std::to_string(i) + "." + m + "." + w);
  if (config.is_roberta()) {
    for (const char* n : {"classifier.dense.weight", "classifier.dense.bias",
                          "classifier.out_proj.weight", "classifier.out_proj.bias"})
      names.push_back(n);
  } else {
    for (const std::string& n : {p + "pooler.dense.weight", p + "pooler.dense.bias",
                                 std::string("classifier.weight"), std::string("classifier.bias")})
      names.push_back(n);
  }
  return names;
}

// ---- modules ---------------------------------------------------------------------------------

namespace {

// HF's nn.Embedding(rows, hidden, padding_idx) initialised by _init_weights: normal, then the
// padding row zero.
std::shared_ptr<Embedding> hf_embedding(int64_t rows, const BertConfig& config, Generator& gen,
                                        std::optional<int64_t> padding_idx = std::nullopt) {
  auto table = std::make_shared<Embedding>(rows, config.hidden, 0, padding_idx);
  trunc_normal_(table->weight, config.initializer_range, gen);
  table->zero_padding_row();
  return table;
}

// A module that only holds named children (HF's BertAttention, BertEncoder, BertPooler
// containers, whose forward lives in the owner).
class Container : public Module {
 public:
  explicit Container(std::string type) : type_(std::move(type)) {}
  std::string type_name() const override { return type_; }
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) {
    return register_module(name, std::move(module));
  }

 private:
  std::string type_;
};

void check_ids(const Tensor& ids, const char* what, const Shape& shape) {
  NEAT_CHECK(ids.dtype() == DType::Int64 && ids.shape() == shape, "BertModel: ", what, " ",
             shape_str(ids.shape()), " ", dtype_name(ids.dtype()), " is not int64 ",
             shape_str(shape));
}

}  // namespace

BertEmbeddings::BertEmbeddings(const BertConfig& config, std::shared_ptr<Generator> gen)
    : roberta_(config.is_roberta()), pad_token_id_(config.pad_token_id) {
  // HF's padding_idx: the word table's pad_token_id row (BERT and RoBERTa) and RoBERTa's
  // position row pad_token_id (the position of every padding token) get no gradient.
  const std::optional<int64_t> position_padding =
      roberta_ ? std::optional<int64_t>(pad_token_id_) : std::nullopt;
  word_embeddings = register_module(
      "word_embeddings", hf_embedding(config.vocab_size, config, *gen, config.pad_token_id));
  position_embeddings = register_module(
      "position_embeddings", hf_embedding(config.max_positions, config, *gen, position_padding));
  token_type_embeddings = register_module("token_type_embeddings",
                                          hf_embedding(config.type_vocab_size, config, *gen));
  layer_norm = register_module("LayerNorm",
                               std::make_shared<LayerNorm>(config.hidden, config.layer_norm_eps));
  dropout = register_module("dropout", std::make_shared<Dropout>(config.dropout, gen));
}

// BERT: pos[b, n] = n.  RoBERTa: pos[b, n] = pad + (number of real tokens in ids[b, 0..n])
// for a real token, pad for padding (so real tokens start at pad + 1).
Tensor BertEmbeddings::position_ids(const Tensor& input_ids) const {
  const int64_t B = input_ids.size(0), N = input_ids.size(1);
  Tensor pos({B, N}, DType::Int64);
  const int64_t* ids = input_ids.data<int64_t>();
  int64_t* out = pos.data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t real = 0;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t i = b * N + n;
      if (!roberta_) out[i] = n;
      else if (ids[i] == pad_token_id_) out[i] = pad_token_id_;
      else out[i] = pad_token_id_ + ++real;
    }
  }
  return pos;
}

Variable BertEmbeddings::forward(const Tensor& input_ids, const Tensor& token_type_ids) {
  NEAT_CHECK(input_ids.dim() == 2, "BertModel: input_ids ", shape_str(input_ids.shape()),
             " is not [B, N]");
  check_ids(input_ids, "input_ids", input_ids.shape());
  Tensor pos = position_ids(input_ids);
  int64_t last = 0;
  for (int64_t p : pos.to_vector<int64_t>()) last = std::max(last, p);
  NEAT_CHECK(last < position_embeddings->num_embeddings(), "BertModel: a sequence of ",
             input_ids.size(1), " tokens needs position ", last, " but the model has ",
             position_embeddings->num_embeddings(), " positions");
  Tensor types = token_type_ids;
  if (types.defined()) check_ids(types, "token_type_ids", input_ids.shape());
  else types = zeros(input_ids.shape(), DType::Int64);
  Variable h = add(add(word_embeddings->forward(input_ids), position_embeddings->forward(pos)),
                   token_type_embeddings->forward(types));
  if (activation_dtype) h = to_dtype(h, *activation_dtype);
  return dropout->forward(layer_norm->forward(h));
}

BertResidualOutput::BertResidualOutput(int64_t in, const BertConfig& config,
                                       std::shared_ptr<Generator> gen, const std::string& hf_type)
    : type_(hf_type) {
  dense =
      register_module<Layer>("dense", hf_linear(in, config.hidden, config.initializer_range, *gen));
  layer_norm = register_module("LayerNorm",
                               std::make_shared<LayerNorm>(config.hidden, config.layer_norm_eps));
  dropout = register_module("dropout", std::make_shared<Dropout>(config.dropout, gen));
}

// LayerNorm(dropout(dense(h)) + residual): the residual add fused into the GEMM's store where
// dense is a plain Linear and dropout the identity (eval, or p = 0), else into the layer norm.
Variable BertResidualOutput::forward(const Variable& h, const Variable& residual) {
  if (dropout->is_identity() && dynamic_cast<const Linear*>(dense.get()) != nullptr)
    return layer_norm->forward(linear_then_add(*dense, h, residual));
  return layer_norm->forward_add(dropout->forward(dense->forward(h)), residual).y;
}

void BertResidualOutput::on_child_replaced(const std::string& name,
                                           const std::shared_ptr<Module>& child) {
  if (name == "dense") dense = as_layer(child, name);
}

BertIntermediate::BertIntermediate(const BertConfig& config, Generator& gen) {
  dense = register_module<Layer>(
      "dense", hf_linear(config.hidden, config.intermediate, config.initializer_range, gen));
  register_module("intermediate_act_fn", std::make_shared<GELU>());
}

Variable BertIntermediate::forward(const Variable& x) { return linear_then_gelu(*dense, x); }

void BertIntermediate::on_child_replaced(const std::string& name,
                                         const std::shared_ptr<Module>& child) {
  if (name == "dense") dense = as_layer(child, name);
}

BertLayer::BertLayer(const BertConfig& config, std::shared_ptr<Generator> gen) {
  auto holder = std::make_shared<Container>("BertAttention");
  // HF BertSelfAttention; the projections drawn in HF's order: query, key, value.
  const int64_t D = config.hidden;
  std::shared_ptr<Layer> query = hf_linear(D, D, config.initializer_range, *gen);
  std::shared_ptr<Layer> key = hf_linear(D, D, config.initializer_range, *gen);
  std::shared_ptr<Layer> value = hf_linear(D, D, config.initializer_range, *gen);
  self_attention = holder->add("self", std::make_shared<MultiHeadSelfAttention>(
                                           query, key, value, config.heads,
                                           config.attention_dropout, gen));
  attention_output = holder->add(
      "output", std::make_shared<BertResidualOutput>(config.hidden, config, gen, "BertSelfOutput"));
  attention = register_module<Module>("attention", holder);
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(config, *gen));
  output = register_module("output", std::make_shared<BertResidualOutput>(
                                         config.intermediate, config, gen, "BertOutput"));
}

Variable BertLayer::forward(const Variable& h, const Tensor& mask) {
  Variable a = attention_output->forward(self_attention->forward(h, mask), h);
  return output->forward(intermediate->forward(a), a);
}

BertModel::BertModel(const BertConfig& config, std::shared_ptr<Generator> gen) {
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(config, gen));
  auto layer_list = std::make_shared<ModuleList>();
  for (int64_t i = 0; i < config.layers; ++i) {
    layers.push_back(std::make_shared<BertLayer>(config, gen));
    layer_list->append(layers.back());
  }
  auto enc = std::make_shared<Container>("BertEncoder");
  enc->add("layer", layer_list);
  encoder = register_module<Module>("encoder", enc);
  if (!config.is_roberta()) {
    auto pool = std::make_shared<Container>("BertPooler");
    pooler_dense = pool->add<Layer>(
        "dense", hf_linear(config.hidden, config.hidden, config.initializer_range, *gen));
    pooler = register_module<Module>("pooler", pool);
  }
}

Variable BertModel::forward(const Tensor& input_ids, const Tensor& attention_mask,
                            const Tensor& token_type_ids) {
  Variable h = embeddings->forward(input_ids, token_type_ids);
  Tensor mask;
  if (attention_mask.defined()) {
    NEAT_CHECK(attention_mask.shape() == input_ids.shape(), "BertModel: attention_mask ",
               shape_str(attention_mask.shape()), " does not match input_ids ",
               shape_str(input_ids.shape()));
    mask = key_padding_mask(attention_mask, h.dtype());
  }
  for (auto& layer : layers) h = layer->forward(h, mask);
  return h;
}

RobertaClassificationHead::RobertaClassificationHead(const BertConfig& config,
                                                     std::shared_ptr<Generator> gen) {
  dense = register_module<Layer>(
      "dense", hf_linear(config.hidden, config.hidden, config.initializer_range, *gen));
  dropout = register_module("dropout", std::make_shared<Dropout>(config.head_dropout(), gen));
  out_proj = register_module<Layer>(
      "out_proj", hf_linear(config.hidden, config.num_labels, config.initializer_range, *gen));
}

Variable RobertaClassificationHead::forward(const Variable& x) {
  return out_proj->forward(dropout->forward(tanh(dense->forward(dropout->forward(x)))));
}

void RobertaClassificationHead::on_child_replaced(const std::string& name,
                                                  const std::shared_ptr<Module>& child) {
  if (name == "dense") dense = as_layer(child, name);
  else if (name == "out_proj") out_proj = as_layer(child, name);
}

BertForSequenceClassification::BertForSequenceClassification(const BertConfig& config)
    : config_(config), gen_(std::make_shared<Generator>(config.seed)) {
  config.validate();
  backbone = register_module(config.prefix(), std::make_shared<BertModel>(config, gen_));
  if (config.is_roberta()) {
    classifier = register_module<Layer>(
        "classifier", std::make_shared<RobertaClassificationHead>(config, gen_));
  } else {
    register_module("dropout", std::make_shared<Dropout>(config.head_dropout(), gen_));
    classifier = register_module<Layer>(
        "classifier", hf_linear(config.hidden, config.num_labels, config.initializer_range, *gen_));
  }
}

Variable BertForSequenceClassification::features(const Tensor& input_ids,
                                                 const Tensor& attention_mask,
                                                 const Tensor& token_type_ids) {
  Variable h = backbone->forward(input_ids, attention_mask, token_type_ids);  // [B, N, D]
  Variable first = reshape(narrow(h, 1, 0, 1), {h.size(0), h.size(2)});
  if (config_.is_roberta()) return first;
  auto drop = std::static_pointer_cast<Dropout>(module("dropout"));
  return drop->forward(tanh(backbone->pooler_dense->forward(first)));
}

Variable BertForSequenceClassification::forward(const Tensor& input_ids,
                                                const Tensor& attention_mask,
                                                const Tensor& token_type_ids) {
  return classifier->forward(features(input_ids, attention_mask, token_type_ids));
}

void BertForSequenceClassification::on_child_replaced(const std::string& name,
                                                      const std::shared_ptr<Module>& child) {
  if (name == "classifier") classifier = as_layer(child, name);
}

// ---- the loss --------------------------------------------------------------------------------

Variable regression_loss(const Variable& logits, const Tensor& targets) {
  NEAT_CHECK(logits.dim() == 2 && logits.size(1) == 1, "regression_loss: logits ",
             shape_str(logits.shape()), " are not [B, 1] (regression has one output)");
  NEAT_CHECK(targets.defined() && is_floating(targets.dtype()) &&
                 targets.shape() == Shape{logits.size(0)},
             "regression_loss: targets ", targets.defined() ? dtype_name(targets.dtype()) : "",
             " ", targets.defined() ? shape_str(targets.shape()) : "undefined",
             " are not float [", logits.size(0), "], one score per example");
  const Tensor t = targets.to(logits.dtype()).to(logits.device());
  return mse_loss(reshape(logits, {logits.size(0)}), t);
}

Variable sequence_classification_loss(const BertConfig& config, const Variable& logits,
                                      const Tensor& targets) {
  if (config.regression()) return regression_loss(logits, targets);
  NEAT_CHECK(targets.defined() && targets.dtype() == DType::Int64, "sequence_classification_",
             "loss: a classification of ", config.num_labels, " labels takes int64 labels, got ",
             targets.defined() ? dtype_name(targets.dtype()) : "undefined");
  return cross_entropy(logits, targets);
}

// ---- weights ---------------------------------------------------------------------------------

std::string BertLoadReport::str() const {
  std::string out;
  for (const std::string& m : messages) out += (out.empty() ? "" : "\n") + m;
  return out;
}

BertLoadReport load_bert_weights(BertForSequenceClassification& model,
                                 const std::map<std::string, Tensor>& tensors) {
  const BertConfig& config = model.config();
  const std::string prefix = config.prefix() + ".";
  const std::string other = config.is_roberta() ? "bert." : "roberta.";
  // The file's name for a model name: as is, or without the backbone prefix.
  auto file_name = [&](const std::string& name) -> std::string {
    if (tensors.count(name)) return name;
    if (name.rfind(prefix, 0) == 0 && tensors.count(name.substr(prefix.size())))
      return name.substr(prefix.size());
    return "";
  };
  const std::string probe = prefix + "embeddings.word_embeddings.weight";
  NEAT_CHECK(!file_name(probe).empty() || !tensors.count(other + "embeddings.word_embeddings.weight"),
             "load_bert_weights: the file holds a ", other.substr(0, other.size() - 1),
             " model, not a ", config.model_type, " one");

  BertLoadReport report;
  std::set<std::string> used;
  auto copy = [&](const std::string& name, const std::string& from) {
    Variable p = model.parameter(name);
    const Tensor& src = tensors.at(from);
    NEAT_CHECK(src.shape() == p.shape(), "load_bert_weights: '", from, "' has shape ",
               shape_str(src.shape()), " but the model's '", name, "' is ", shape_str(p.shape()));
    NoGradGuard no_grad;
    p.data().copy_from(src);
    used.insert(from);
    ++report.loaded;
  };

  // The classifier: all of its tensors, with the model's shapes, or none.
  std::vector<std::string> head, pooler;
  for (const std::string& name : bert_parameter_names(config)) {
    if (name.rfind("classifier.", 0) == 0) head.push_back(name);
    else if (name.rfind(prefix + "pooler.", 0) == 0) pooler.push_back(name);
  }
  bool head_fits = true;
  for (const std::string& name : head) {
    auto it = tensors.find(name);
    head_fits = head_fits && it != tensors.end() &&
                it->second.shape() == model.parameter(name).shape();
  }

  for (const std::string& name : bert_parameter_names(config)) {
    const bool is_head = std::find(head.begin(), head.end(), name) != head.end();
    const bool is_pooler = std::find(pooler.begin(), pooler.end(), name) != pooler.end();
    if (is_head) {
      if (head_fits) copy(name, name);
      else if (tensors.count(name)) used.insert(name);  // another label count: ignored
      continue;
    }
    const std::string from = file_name(name);
    if (from.empty() && is_pooler) continue;
    NEAT_CHECK(!from.empty(), "load_bert_weights: the file has no '", name, "' (nor '",
               name.substr(prefix.size()), "')");
    copy(name, from);
  }
  report.classifier_loaded = head_fits;
  report.pooler_loaded = !config.is_roberta() && !file_name(prefix + "pooler.dense.weight").empty();
  if (!report.classifier_loaded)
    report.messages.push_back("classifier: not in the file or another label count; kept its "
                              "initialisation (" + std::to_string(config.num_labels) + " labels)");
  if (!config.is_roberta() && !report.pooler_loaded)
    report.messages.push_back("pooler: not in the file; kept its initialisation");
  for (const auto& [name, tensor] : tensors) {
    const bool buffer = name.size() >= 12 && name.substr(name.size() - 12) == "position_ids";
    const bool unused_pooler = config.is_roberta() && name.find("pooler.") != std::string::npos;
    if (used.count(name) || buffer) continue;
    report.unused.push_back(name);
    if (!unused_pooler)
      report.messages.push_back("not used: '" + name + "' " + shape_str(tensor.shape()));
  }
  return report;
}

BertLoadReport load_bert_weights(BertForSequenceClassification& model, const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  try {
    return load_bert_weights(model, file.to_map());
  } catch (const std::exception& e) {
    NEAT_CHECK(false, path, ": ", e.what());
  }
}

}  // namespace neat
