// Tests for models/generation: the KV cache changes nothing (tokens and logits of greedy decoding
// with and without it), a left-padded batch is each prompt alone, a seed replays a sampled text,
// top-k = 1 is greedy, the sampling distribution (temperature, top-k, top-p) against hand-computed
// probabilities and against the frequencies of many draws, and the stop rules.
#include <doctest/doctest.h>

#include <cmath>

#include "models/generation.h"
#include "tests/op_test_util.h"

using namespace neat;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

// 3 query heads on 1 key / value head, tied embeddings: the SmolLM2 shape, tiny.
LlamaConfig tiny_generator_config() {
  LlamaConfig c;
  c.vocab_size = 23;
  c.hidden = 12;
  c.intermediate = 20;
  c.layers = 2;
  c.heads = 3;
  c.kv_heads = 1;
  c.head_dim = 4;
  c.rope_theta = 100;
  c.tie_word_embeddings = true;
  c.initializer_range = 0.6;   // peaked logits: no near ties for greedy decoding to flip on
  c.seed = 5;
  return c;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector<float>()) m = std::max(m, double(std::fabs(v)));
  return m;
}

// Logits of row b of every step of r, as [steps, V] rows compared one by one.
void check_same_logits(const GenerationResult& a, int64_t row_a, const GenerationResult& b,
                       int64_t row_b, int64_t steps) {
  REQUIRE(int64_t(a.logits.size()) >= steps);
  REQUIRE(int64_t(b.logits.size()) >= steps);
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t V = a.logits[size_t(s)].size(1);
    const Tensor x = a.logits[size_t(s)].reshape({-1}).to(DType::Float64);
    const Tensor y = b.logits[size_t(s)].reshape({-1}).to(DType::Float64);
    double diff = 0, scale = 0;
    for (int64_t v = 0; v < V; ++v) {
      diff = std::max(diff, std::fabs(x.flat(row_a * V + v) - y.flat(row_b * V + v)));
      scale = std::max(scale, std::fabs(x.flat(row_a * V + v)));
    }
    CHECK_MESSAGE(diff <= 1e-5 * scale, "step ", s, ": ", diff, " vs scale ", scale);
  }
}

}  // namespace

TEST_CASE("generation: greedy with and without the KV cache gives the same tokens and logits") {
  LlamaForCausalLM model(tiny_generator_config());
  GenerationOptions o;
  o.max_new_tokens = 12;
  o.keep_logits = true;
  const std::vector<std::vector<int64_t>> prompts = {{3, 17, 4, 9, 1}};
  const GenerationResult cached = generate(model, prompts, o);
  o.use_cache = false;
  const GenerationResult full = generate(model, prompts, o);
  REQUIRE(cached.tokens[0].size() == 12);
  CHECK(cached.tokens == full.tokens);
  check_same_logits(cached, 0, full, 0, 12);
  CHECK(max_abs(cached.logits[0]) > 0.1);   // not all zeros
  // The first step's logits are the full forward's last position.
  const Tensor direct = model.forward(from_vector(prompts[0], {1, 5})).data();
  const Tensor last = direct.reshape({5, 23}).to(DType::Float64);
  double diff = 0;
  for (int64_t v = 0; v < 23; ++v)
    diff = std::max(diff, std::fabs(last.flat(4 * 23 + v) - cached.logits[0].flat(v)));
  CHECK(diff <= 1e-5 * max_abs(cached.logits[0]));
  CHECK(cached.prefill_tokens == 5);
  CHECK(cached.decode_tokens == 11);
}

TEST_CASE("generation: a left-padded batch gives each prompt's tokens and logits alone") {
  LlamaForCausalLM model(tiny_generator_config());
  GenerationOptions o;
  o.max_new_tokens = 6;
  o.keep_logits = true;
  o.pad_token = 22;
  const std::vector<std::vector<int64_t>> prompts = {{5, 8, 13, 2, 7}, {11, 3}, {1, 19, 6, 4}};
  const GenerationResult batch = generate(model, prompts, o);
  for (int64_t b = 0; b < 3; ++b) {
    CAPTURE(b);
    const GenerationResult alone = generate(model, {prompts[size_t(b)]}, o);
    CHECK(batch.tokens[size_t(b)] == alone.tokens[0]);
    check_same_logits(batch, b, alone, 0, 6);
  }
  CHECK(batch.prefill_tokens == 11);   // padding is not counted
}

TEST_CASE("generation: a seed replays a sampled text; top-k = 1 is greedy; stop rules") {
  LlamaForCausalLM model(tiny_generator_config());
  const std::vector<std::vector<int64_t>> prompt = {{2, 9, 14}};
  GenerationOptions o;
  o.max_new_tokens = 16;
  const GenerationResult greedy = generate(model, prompt, o);
  o.sampling.temperature = 1.5;
  o.sampling.seed = 7;
  const GenerationResult a = generate(model, prompt, o), b = generate(model, prompt, o);
  CHECK(a.tokens == b.tokens);
  o.sampling.seed = 8;
  CHECK(generate(model, prompt, o).tokens != a.tokens);
  CHECK(a.tokens != greedy.tokens);
  o.sampling.top_k = 1;
  CHECK(generate(model, prompt, o).tokens == greedy.tokens);

  // A stop token ends the row after it is emitted; on_token's false too.
  GenerationOptions s;
  s.max_new_tokens = 16;
  const int64_t stop = greedy.tokens[0][3];
  s.stop_tokens = {stop};
  const std::vector<int64_t> g = greedy.tokens[0];
  const size_t first = size_t(std::find(g.begin(), g.end(), stop) - g.begin());
  const GenerationResult stopped = generate(model, prompt, s);
  CHECK(stopped.tokens[0] == std::vector<int64_t>(g.begin(), g.begin() + first + 1));
  s.stop_tokens.clear();
  std::vector<int64_t> streamed;
  s.on_token = [&](int64_t row, int64_t id) {
    CHECK(row == 0);
    streamed.push_back(id);
    return streamed.size() < 5;
  };
  CHECK(generate(model, prompt, s).tokens[0] == std::vector<int64_t>(g.begin(), g.begin() + 5));
  CHECK(streamed == std::vector<int64_t>(g.begin(), g.begin() + 5));
  s.on_token = nullptr;
  s.max_new_tokens = 0;
  CHECK(generate(model, prompt, s).tokens[0].empty());
  CHECK(mentions(thrown_message([&] { generate(model, {{2, 23}}, s); }), {"token 23", "23"}));
}

TEST_CASE("sampling: temperature, top-k and top-p as hand-computed; draws follow them") {
  const std::vector<float> logits = {1, 2, 3, 0.5};
  SamplingOptions o;
  auto dist = [&] { return sampling_distribution(logits.data(), 4, o); };
  CHECK(dist() == std::vector<double>{0, 0, 1, 0});   // greedy
  o.temperature = 2;   // softmax(logits / 2)
  const double e[4] = {std::exp(0.5), std::exp(1.0), std::exp(1.5), std::exp(0.25)};
  const double sum = e[0] + e[1] + e[2] + e[3];
  std::vector<double> p = dist();
  for (int i = 0; i < 4; ++i) CHECK(p[size_t(i)] == doctest::Approx(e[i] / sum).epsilon(1e-12));
  // Probabilities .163 .268 .442 .127: top-p 0.7 drops .127 and .163 (together .289 <= 0.3).
  o.top_p = 0.7;
  p = dist();
  CHECK(p[0] == 0);
  CHECK(p[3] == 0);
  CHECK(p[1] == doctest::Approx(e[1] / (e[1] + e[2])).epsilon(1e-12));
  CHECK(p[2] == doctest::Approx(e[2] / (e[1] + e[2])).epsilon(1e-12));
  o.top_p = 0.72;   // .127 <= 0.28 goes, .127 + .163 > 0.28: .163 stays
  CHECK(dist()[3] == 0);
  CHECK(dist()[0] > 0);
  o.top_p = 0.5;    // .127 + .163 + .268 = .558 > 0.5: .268 stays too (HF keeps the crossing one)
  CHECK(dist()[1] > 0);
  o.top_p = 0.4;    // ... <= 0.6: dropped; the top token alone
  CHECK(dist() == std::vector<double>{0, 0, 1, 0});
  o.top_p = 1;
  o.temperature = 1;
  o.top_k = 3;   // the 0.5 logit goes; softmax of 1, 2, 3
  p = dist();
  const double s3 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(p[3] == 0);
  CHECK(p[0] == doctest::Approx(std::exp(1.0) / s3).epsilon(1e-12));
  CHECK(p[2] == doctest::Approx(std::exp(3.0) / s3).epsilon(1e-12));

  // 20000 draws: each frequency within 0.015 of its probability (about 5 standard deviations).
  Generator gen(11);
  std::vector<int64_t> count(4, 0);
  for (int i = 0; i < 20000; ++i) ++count[size_t(sample_token(logits.data(), 4, o, gen))];
  for (int i = 0; i < 4; ++i)
    CHECK(std::fabs(double(count[size_t(i)]) / 20000 - p[size_t(i)]) < 0.015);

  o.top_p = 0;
  CHECK(mentions(thrown_message([&] { dist(); }), {"top_p 0"}));
  o.top_p = 1;
  o.temperature = -1;
  CHECK(mentions(thrown_message([&] { dist(); }), {"temperature -1"}));
}
