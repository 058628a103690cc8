// Scoring a causal LM on the paper's tasks (train/lm_evaluation.h).
#include "train/lm_evaluation.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "autograd/shape_ops.h"
#include "models/generation.h"
#include "models/llama.h"
#include "tensor/check.h"
#include "text/bpe_tokenizer.h"
#include "text/unicode.h"

namespace neat {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check_batch(const std::vector<LmTaskItem>& items, int64_t batch_size, const char* what) {
  NEAT_CHECK(batch_size > 0, what, ": batch_size ", batch_size, " is not positive");
  NEAT_CHECK(!items.empty(), what, ": no items");
}

// The answer words extract_answer looks for in a commonsense task's output.
std::vector<std::string> answer_words(const std::string& task) {
  if (task == "boolq") return {"true", "false"};
  const int64_t n = task == "piqa" || task == "winogrande" ? 2 : task == "hellaswag" ? 4 : 5;
  std::vector<std::string> words;
  for (int64_t i = 0; i < n; ++i) words.push_back(lm_choice_answer(task, i));
  return words;
}

std::string trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\n\r\f\v");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\n\r\f\v") - first + 1);
}

// The generated text as LLM-Adapters reads it: output.split("### Response:")[1].strip(), where
// the prompt holds the first "### Response:", so the text stops at one the model wrote.
std::string response_text(const BPETokenizer& tok, const std::vector<int64_t>& ids) {
  std::string text = tok.decode(ids, /*skip_special=*/true);
  const size_t cut = text.find("### Response:");
  if (cut != std::string::npos) text.resize(cut);
  return trim(text);
}

// log p(token) from one row of logits, in double.
double log_prob(const float* logits, int64_t vocab, int64_t token) {
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t v = 0; v < vocab; ++v) top = std::max(top, double(logits[v]));
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v) sum += std::exp(double(logits[v]) - top);
  return double(logits[token]) - top - std::log(sum);
}

// Logits [rows.size(), V] (float32, CPU) of the given rows of hidden states h [B, N, D].
Tensor logits_of_rows(LlamaForCausalLM& model, const Variable& h, const std::vector<int64_t>& rows) {
  const int64_t B = h.size(0), N = h.size(1), D = h.size(2);
  const Variable picked = index_select(reshape(h, {B * N, D}), 0,
                                       from_vector(rows, {int64_t(rows.size())}).to(h.device()));
  return model.head(picked).data().to(Device::CPU).to(DType::Float32);
}

Tensor int_tensor(const std::vector<std::vector<int64_t>>& rows) {
  const int64_t B = int64_t(rows.size()), N = int64_t(rows[0].size());
  Tensor t({B, N}, DType::Int64);
  for (int64_t b = 0; b < B; ++b) std::copy(rows[size_t(b)].begin(), rows[size_t(b)].end(), t.data<int64_t>() + b * N);
  return t;
}

// The cache's rows `rows` (of its batch), in that order, as the new batch.
void select_cache_rows(LlamaKVCache& cache, const std::vector<int64_t>& rows) {
  const Tensor index = from_vector(rows, {int64_t(rows.size())});
  for (size_t l = 0; l < cache.k.size(); ++l) {
    cache.k[l] = index_select(cache.k[l], 0, index.to(cache.k[l].device()));
    cache.v[l] = index_select(cache.v[l], 0, index.to(cache.v[l].device()));
  }
}

// One item's sequences: head = prompt + the continuations' common prefix; tails[c] = choice c's
// tokens after it (the first predicted by head's last position).
struct ChoiceItem {
  std::vector<int64_t> head;
  size_t prompt_length = 0;
  std::vector<std::vector<int64_t>> tails;
  std::vector<double> lengths;   // what acc_norm divides each choice's sum by
};

ChoiceItem choice_item(const BPETokenizer& tok, const LmTaskItem& item, LmFormat format) {
  NEAT_CHECK(!item.choices.empty(), "choice likelihood: a ", item.task, " item has no choices");
  ChoiceItem c;
  std::vector<std::vector<int64_t>> conts;
  for (int64_t j = 0; j < int64_t(item.choices.size()); ++j) {
    const LmTokens t = tokenize_lm_prompt(tok, format_lm_choice(item, j, format), /*add_eos=*/false);
    if (j == 0) c.head = t.prompt;
    conts.push_back(t.response);
    c.lengths.push_back(lm_choice_norm_length(item, j, format));
  }
  NEAT_CHECK(!c.head.empty(), "choice likelihood: an empty prompt");
  c.prompt_length = c.head.size();
  size_t common = conts[0].size();
  for (const auto& t : conts) {
    NEAT_CHECK(!t.empty(), "choice likelihood: an empty continuation");
    size_t k = 0;
    while (k < common && k < t.size() && t[k] == conts[0][k]) ++k;
    common = k;
  }
  common = std::min(common, conts[0].size() - 1);   // every choice keeps >= 1 token of its own...
  for (const auto& t : conts) common = std::min(common, t.size() - 1);   // ...to be predicted
  c.head.insert(c.head.end(), conts[0].begin(), conts[0].begin() + int64_t(common));
  for (const auto& t : conts) c.tails.emplace_back(t.begin() + int64_t(common), t.end());
  return c;
}

// The batch's heads through the model, filling cache and mask (each row's key mask [B][T]): the
// tokens every head starts with (LLM-Adapters' preamble) once as one row, copied to every row
// of the cache, then the rest of each head, left-padded after them. Returns the logits of each
// item's rows from its prompt's last token on, in order.
Tensor run_heads(LlamaForCausalLM& model, const std::vector<ChoiceItem>& batch,
                 LlamaKVCache& cache, std::vector<std::vector<int64_t>>& mask) {
  const int64_t B = int64_t(batch.size());
  size_t S = batch[0].prompt_length - 1, L = 0;   // shared tokens; each row keeps >= 1 of its own
  for (const auto& c : batch) {
    S = std::min(S, c.prompt_length - 1);
    size_t k = 0;
    while (k < S && c.head[k] == batch[0].head[k]) ++k;
    S = k;
  }
  if (S > 0) {
    const std::vector<int64_t> shared(batch[0].head.begin(), batch[0].head.begin() + int64_t(S));
    model.model->forward(int_tensor({shared}), Tensor(), Tensor(), &cache);
    select_cache_rows(cache, std::vector<int64_t>(size_t(B), 0));
  }
  for (const auto& c : batch) L = std::max(L, c.head.size() - S);
  std::vector<std::vector<int64_t>> ids, pos;
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < B; ++b) {
    const ChoiceItem& c = batch[size_t(b)];
    const size_t own = c.head.size() - S, pad = L - own;
    ids.push_back(std::vector<int64_t>(pad, 0));
    ids.back().insert(ids.back().end(), c.head.begin() + int64_t(S), c.head.end());
    mask.push_back(std::vector<int64_t>(S, 1));
    mask.back().resize(S + pad, 0);
    mask.back().resize(S + L, 1);
    pos.push_back(std::vector<int64_t>(pad, 1));
    for (size_t i = 0; i < own; ++i) pos.back().push_back(int64_t(S + i));
    for (size_t k = c.prompt_length - 1; k < c.head.size(); ++k)
      rows.push_back(b * int64_t(L) + int64_t(pad + k - S));
  }
  const Variable h = model.model->forward(int_tensor(ids), int_tensor(mask), int_tensor(pos), &cache);
  return logits_of_rows(model, h, rows);
}

// Adds to logp[i][c] the log-probabilities of the batch's items' choices.
void score_batch(LlamaForCausalLM& model, const std::vector<ChoiceItem>& batch,
                 std::vector<std::vector<double>>& logp) {
  const int64_t V = model.config().vocab_size, B = int64_t(batch.size());
  LlamaKVCache cache;
  std::vector<std::vector<int64_t>> mask;
  const Tensor logits = run_heads(model, batch, cache, mask);
  // Second pass: each choice's tokens after its first, from a copy of its item's cache row.
  std::vector<int64_t> owner, choice;
  size_t M = 0;
  int64_t r = 0;
  for (int64_t b = 0; b < B; ++b) {
    const ChoiceItem& c = batch[size_t(b)];
    const size_t common = c.head.size() - c.prompt_length;
    for (size_t k = 0; k < common; ++k)   // the common prefix: the same for every choice
      for (auto& v : logp[size_t(b)])
        v += log_prob(logits.data<float>() + (r + int64_t(k)) * V, V, c.head[c.prompt_length + k]);
    r += int64_t(common);
    for (size_t j = 0; j < c.tails.size(); ++j) {
      logp[size_t(b)][j] += log_prob(logits.data<float>() + r * V, V, c.tails[j][0]);
      if (c.tails[j].size() < 2) continue;
      owner.push_back(b);
      choice.push_back(int64_t(j));
      M = std::max(M, c.tails[j].size() - 1);
    }
    ++r;
  }
  if (owner.empty()) return;
  select_cache_rows(cache, owner);
  const size_t T = mask[0].size();
  std::vector<std::vector<int64_t>> ids2, mask2, pos2;
  std::vector<int64_t> rows2;
  for (size_t s = 0; s < owner.size(); ++s) {
    const ChoiceItem& c = batch[size_t(owner[s])];
    const std::vector<int64_t>& tail = c.tails[size_t(choice[s])];
    ids2.push_back(std::vector<int64_t>(tail.begin(), tail.end() - 1));
    ids2.back().resize(M, 0);   // right padding: causal attention never lets a token see it
    mask2.push_back(mask[size_t(owner[s])]);
    mask2.back().resize(T + M, 1);
    pos2.emplace_back();
    for (size_t k = 0; k < M; ++k) pos2.back().push_back(int64_t(c.head.size() + k));
    for (size_t k = 0; k + 1 < tail.size(); ++k) rows2.push_back(int64_t(s * M + k));
  }
  const Variable h2 = model.model->forward(int_tensor(ids2), int_tensor(mask2), int_tensor(pos2), &cache);
  const Tensor logits2 = logits_of_rows(model, h2, rows2);
  int64_t row = 0;
  for (size_t s = 0; s < owner.size(); ++s) {
    const std::vector<int64_t>& tail = batch[size_t(owner[s])].tails[size_t(choice[s])];
    for (size_t k = 1; k < tail.size(); ++k)
      logp[size_t(owner[s])][size_t(choice[s])] +=
          log_prob(logits2.data<float>() + row++ * V, V, tail[k]);
  }
}

int64_t argmax_of(const std::vector<double>& x) {
  return int64_t(std::max_element(x.begin(), x.end()) - x.begin());   // the first of equal maxima
}

}  // namespace

double LmEvaluation::accuracy() const { return total > 0 ? double(correct) / double(total) : 0; }
double LmEvaluation::accuracy_norm() const {
  return total > 0 ? double(correct_norm) / double(total) : 0;
}

std::string extract_lm_answer(const std::string& task, const std::string& generated) {
  if (task == "gsm8k") {   // re.findall(r'-?\d+\.?\d*', sentence.replace(',', ''))[-1]
    std::string s;
    for (char ch : generated)
      if (ch != ',') s += ch;
    std::string last;
    for (size_t i = 0; i < s.size();) {
      const size_t start = i;
      if (s[i] == '-' && i + 1 < s.size() && std::isdigit(uint8_t(s[i + 1]))) ++i;
      if (!std::isdigit(uint8_t(s[i]))) { i = start + 1; continue; }
      while (i < s.size() && std::isdigit(uint8_t(s[i]))) ++i;
      if (i < s.size() && s[i] == '.') ++i;
      while (i < s.size() && std::isdigit(uint8_t(s[i]))) ++i;
      last = s.substr(start, i - start);
    }
    return last;
  }
  std::string best;
  size_t best_at = std::string::npos;
  for (const std::string& word : answer_words(task)) {
    const size_t at = generated.find(word);
    if (at < best_at) best_at = at, best = word;
  }
  return best;
}

bool lm_answer_correct(const LmTaskItem& item, const std::string& extracted) {
  if (extracted.empty()) return false;
  if (item.task != "gsm8k") return extracted == item.answer;
  char* end = nullptr;
  const double want = std::strtod(item.answer.c_str(), &end);
  NEAT_CHECK(end != item.answer.c_str(), "gsm8k: the answer \"", item.answer, "\" is not a number");
  return std::fabs(std::strtod(extracted.c_str(), nullptr) - want) <= 0.001;
}

LmEvaluation evaluate_by_generation(LlamaForCausalLM& model, const BPETokenizer& tok,
                                    const std::vector<LmTaskItem>& items, int64_t max_new_tokens,
                                    int64_t batch_size) {
  check_batch(items, batch_size, "evaluate_by_generation");
  const Clock::time_point start = Clock::now();
  LmEvaluation e;
  const int64_t eos = tok.vocab().eos;
  for (size_t first = 0; first < items.size(); first += size_t(batch_size)) {
    const size_t last = std::min(items.size(), first + size_t(batch_size));
    std::vector<std::vector<int64_t>> prompts, out(last - first);
    for (size_t i = first; i < last; ++i)
      prompts.push_back(tokenize_lm_prompt(tok, format_lm_prompt(items[i])).prompt);
    GenerationOptions o;
    o.max_new_tokens = max_new_tokens;
    if (eos >= 0) o.stop_tokens = {eos};
    o.pad_token = std::max<int64_t>(eos, 0);
    // Commonsense answers are the first answer word: a row stops once its text holds one.
    o.on_token = [&](int64_t row, int64_t id) {
      out[size_t(row)].push_back(id);
      const std::string& task = items[first + size_t(row)].task;
      return task == "gsm8k" || extract_lm_answer(task, response_text(tok, out[size_t(row)])).empty();
    };
    const GenerationResult r = generate(model, prompts, o);
    for (size_t i = first; i < last; ++i) {
      const std::string text = response_text(tok, r.tokens[i - first]);
      const std::string answer = extract_lm_answer(items[i].task, text);
      e.outputs.push_back(text);
      e.predictions.push_back(answer);
      e.correct += lm_answer_correct(items[i], answer);
      ++e.total;
    }
  }
  e.seconds = seconds_since(start);
  return e;
}

double lm_choice_norm_length(const LmTaskItem& item, int64_t index, LmFormat format) {
  const std::string text = format == LmFormat::kCloze ? lm_cloze_choice(item, index)
                                                      : format_lm_choice(item, index, format).response;
  const double length = double(utf8_decode(text).size());
  NEAT_CHECK(length > 0, "choice likelihood: choice ", index + 1, " of a ", item.task,
             " item is empty");
  return length;
}

LmEvaluation evaluate_by_choice_likelihood(LlamaForCausalLM& model, const BPETokenizer& tok,
                                           const std::vector<LmTaskItem>& items,
                                           int64_t batch_size, LmFormat format) {
  check_batch(items, batch_size, "evaluate_by_choice_likelihood");
  const Clock::time_point start = Clock::now();
  NoGradGuard no_grad;
  LmEvaluation e;
  for (size_t first = 0; first < items.size(); first += size_t(batch_size)) {
    const size_t last = std::min(items.size(), first + size_t(batch_size));
    std::vector<ChoiceItem> batch;
    std::vector<std::vector<double>> logp;
    for (size_t i = first; i < last; ++i) {
      batch.push_back(choice_item(tok, items[i], format));
      logp.emplace_back(items[i].choices.size(), 0.0);
    }
    score_batch(model, batch, logp);
    for (size_t i = first; i < last; ++i) {
      const std::vector<double>& lp = logp[i - first];
      std::vector<double> norm = lp;
      for (size_t j = 0; j < norm.size(); ++j) norm[j] /= batch[i - first].lengths[j];
      const int64_t pick = argmax_of(lp);
      e.correct += pick == items[i].label;
      e.correct_norm += argmax_of(norm) == items[i].label;
      e.outputs.push_back(format == LmFormat::kCloze ? lm_cloze_choice(items[i], pick)
                                                     : lm_choice_answer(items[i].task, pick));
      e.predictions.push_back(e.outputs.back());
      e.choice_logprobs.push_back(lp);
      ++e.total;
    }
  }
  e.seconds = seconds_since(start);
  return e;
}

}  // namespace neat
