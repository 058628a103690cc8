// Generation over LlamaForCausalLM + LlamaKVCache (models/generation.h).
#include "models/generation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "autograd/shape_ops.h"

namespace neat {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check_sampling(const SamplingOptions& o) {
  NEAT_CHECK(o.temperature >= 0 && std::isfinite(o.temperature), "sampling: temperature ",
             o.temperature, " is not >= 0");
  NEAT_CHECK(o.top_k >= 0, "sampling: top_k ", o.top_k, " is negative");
  NEAT_CHECK(o.top_p > 0 && o.top_p <= 1, "sampling: top_p ", o.top_p, " is not in (0, 1]");
}

int64_t argmax(const float* x, int64_t n) {
  return int64_t(std::max_element(x, x + n) - x);   // the first of equal maxima, as torch
}

// The sequences of every row so far: ids, 0/1 mask and positions, as HF's generate keeps them.
struct Batch {
  std::vector<std::vector<int64_t>> ids, mask, pos;
  int64_t length() const { return int64_t(ids[0].size()); }
  // Columns [from, length()) of one of the three as an int64 [B, length() - from] tensor.
  Tensor columns(const std::vector<std::vector<int64_t>>& rows, int64_t from) const {
    const int64_t B = int64_t(rows.size()), N = length() - from;
    Tensor t({B, N}, DType::Int64);
    for (int64_t b = 0; b < B; ++b)
      std::copy(rows[size_t(b)].begin() + from, rows[size_t(b)].end(), t.data<int64_t>() + b * N);
    return t;
  }
  void append(const std::vector<int64_t>& next) {
    for (size_t b = 0; b < ids.size(); ++b) {
      ids[b].push_back(next[b]);
      mask[b].push_back(1);
      pos[b].push_back(pos[b].back() + 1);
    }
  }
};

Batch left_padded(const std::vector<std::vector<int64_t>>& prompts, int64_t pad) {
  size_t L = 0;
  for (const auto& p : prompts) L = std::max(L, p.size());
  Batch batch;
  for (const auto& p : prompts) {
    const size_t padding = L - p.size();
    std::vector<int64_t> ids(padding, pad), mask(padding, 0), pos(padding, 1);
    ids.insert(ids.end(), p.begin(), p.end());
    mask.insert(mask.end(), p.size(), 1);
    for (size_t i = 0; i < p.size(); ++i) pos.push_back(int64_t(i));   // cumsum(mask) - 1
    batch.ids.push_back(ids);
    batch.mask.push_back(mask);
    batch.pos.push_back(pos);
  }
  return batch;
}

// Logits [B, V] (float32, CPU) of the last position after feeding columns [from, length()).
Tensor last_logits(LlamaForCausalLM& model, const Batch& batch, int64_t from, bool padded,
                   LlamaKVCache* cache) {
  const Tensor mask = padded ? batch.columns(batch.mask, 0) : Tensor();
  const Variable h = model.model->forward(batch.columns(batch.ids, from), mask,
                                          batch.columns(batch.pos, from), cache);
  const int64_t B = h.size(0), N = h.size(1), D = h.size(2);
  std::vector<int64_t> rows(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) rows[size_t(b)] = b * N + N - 1;
  const Variable last = index_select(reshape(h, {B * N, D}), 0,
                                     from_vector(rows, {B}).to(h.device()));
  return model.head(last).data().to(Device::CPU).to(DType::Float32);
}

}  // namespace

double GenerationResult::prefill_tokens_per_second() const {
  return prefill_seconds > 0 ? double(prefill_tokens) / prefill_seconds : 0;
}
double GenerationResult::decode_tokens_per_second() const {
  return decode_seconds > 0 ? double(decode_tokens) / decode_seconds : 0;
}

std::vector<double> sampling_distribution(const float* logits, int64_t vocab,
                                          const SamplingOptions& o) {
  check_sampling(o);
  NEAT_CHECK(vocab > 0, "sampling: an empty row of logits");
  std::vector<double> p(size_t(vocab), 0.0);
  if (o.temperature == 0) {
    p[size_t(argmax(logits, vocab))] = 1;
    return p;
  }
  std::vector<double> z(logits, logits + vocab);
  for (double& v : z) v /= o.temperature;
  const double removed = -std::numeric_limits<double>::infinity();
  if (o.top_k > 0 && o.top_k < vocab) {   // HF TopK: below the k-th largest value is removed
    std::vector<double> sorted = z;
    std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(),
                     std::greater<>());
    const double kth = sorted[size_t(o.top_k - 1)];
    for (double& v : z)
      if (v < kth) v = removed;
  }
  const double top = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (size_t i = 0; i < z.size(); ++i) sum += p[i] = std::exp(z[i] - top);
  for (double& v : p) v /= sum;
  if (o.top_p < 1) {   // HF TopP: ascending, drop while the cumulative mass <= 1 - top_p
    std::vector<int64_t> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return p[size_t(a)] < p[size_t(b)]; });
    double cumulative = 0;
    for (int64_t i = 0; i + 1 < vocab; ++i) {   // the most likely token always stays
      cumulative += p[size_t(order[size_t(i)])];
      if (cumulative > 1 - o.top_p) break;
      p[size_t(order[size_t(i)])] = 0;
    }
    sum = std::accumulate(p.begin(), p.end(), 0.0);
    for (double& v : p) v /= sum;
  }
  return p;
}

int64_t sample_token(const float* logits, int64_t vocab, const SamplingOptions& o, Generator& gen) {
  if (o.temperature == 0) {
    check_sampling(o);
    return argmax(logits, vocab);
  }
  const std::vector<double> p = sampling_distribution(logits, vocab, o);
  const double u = gen.uniform();
  double cumulative = 0;
  int64_t last = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (p[size_t(i)] == 0) continue;
    last = i;
    cumulative += p[size_t(i)];
    if (u < cumulative) return i;
  }
  return last;   // u beyond the rounded total
}

GenerationResult generate(LlamaForCausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                          const GenerationOptions& o) {
  check_sampling(o.sampling);
  NEAT_CHECK(!prompts.empty(), "generate: no prompt");
  NEAT_CHECK(o.max_new_tokens >= 0, "generate: max_new_tokens ", o.max_new_tokens, " is negative");
  const int64_t V = model.config().vocab_size, B = int64_t(prompts.size());
  bool padded = false;
  GenerationResult r;
  for (const auto& p : prompts) {
    NEAT_CHECK(!p.empty(), "generate: an empty prompt");
    for (int64_t id : p)
      NEAT_CHECK(id >= 0 && id < V, "generate: token ", id, " is outside the vocabulary of ", V);
    padded = padded || p.size() != prompts[0].size();
    r.prefill_tokens += int64_t(p.size());
  }
  NEAT_CHECK(o.pad_token >= 0 && o.pad_token < V, "generate: pad_token ", o.pad_token,
             " is outside the vocabulary of ", V);
  r.tokens.assign(size_t(B), {});
  if (o.max_new_tokens == 0) return r;

  NoGradGuard no_grad;
  Generator gen(o.sampling.seed);
  Batch batch = left_padded(prompts, o.pad_token);
  LlamaKVCache cache;
  LlamaKVCache* kv = o.use_cache ? &cache : nullptr;
  std::vector<bool> active(size_t(B), true);
  int64_t live = B;
  Clock::time_point start = Clock::now();
  Tensor logits = last_logits(model, batch, 0, padded, kv);
  r.prefill_seconds = seconds_since(start);
  for (int64_t step = 0;; ++step) {
    if (o.keep_logits) r.logits.push_back(logits);
    std::vector<int64_t> next(size_t(B), o.pad_token);
    for (int64_t b = 0; b < B; ++b) {
      if (!active[size_t(b)]) continue;
      const int64_t id = sample_token(logits.data<float>() + b * V, V, o.sampling, gen);
      next[size_t(b)] = id;
      r.tokens[size_t(b)].push_back(id);
      const bool stop =
          std::find(o.stop_tokens.begin(), o.stop_tokens.end(), id) != o.stop_tokens.end();
      if ((o.on_token && !o.on_token(b, id)) || stop) {
        active[size_t(b)] = false;
        --live;
      }
    }
    if (live == 0 || step + 1 == o.max_new_tokens) break;
    batch.append(next);
    start = Clock::now();
    logits = last_logits(model, batch, o.use_cache ? batch.length() - 1 : 0, padded, kv);
    r.decode_seconds += seconds_since(start);
    r.decode_tokens += live;
  }
  return r;
}

}  // namespace neat
