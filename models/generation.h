// Text generation with a LlamaForCausalLM and its KV cache: the prompts go through the model
// once (prefill), then one token at a time, each step feeding only the new token and running
// only the last position through lm_head. Greedy or sampled decoding as Hugging Face's
// generate: temperature, then top-k, then top-p, then a draw from the softmax (the draws from
// tensor/random.h's Generator, so a seed replays the same text).
//
//   GenerationOptions o;  o.max_new_tokens = 32;  o.stop_tokens = {eos};
//   o.sampling.temperature = 0.7;  o.sampling.top_p = 0.9;  o.sampling.seed = 1;
//   o.on_token = [&](int64_t row, int64_t id) { std::cout << tok.decode({id}); return true; };
//   GenerationResult r = generate(model, {prompt_ids}, o);   // r.tokens[0]: the new ids
//   r.decode_tokens_per_second();
//
// Prompts of different lengths are padded on the left, as HF's generate does for decoders:
// attention_mask 0 over the padding, position_ids = cumsum(mask) - 1 (1 over the padding), so
// each row computes what it would alone.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "models/llama.h"

namespace neat {

struct SamplingOptions {
  double temperature = 0;   // 0: greedy (argmax, the first of equal maxima); > 0: sampled
  int64_t top_k = 0;        // keep the k most likely tokens; 0: all
  double top_p = 1;         // keep the fewest most likely tokens whose probability sums >= top_p
  uint64_t seed = 0;
};

struct GenerationOptions {
  int64_t max_new_tokens = 32;
  SamplingOptions sampling;
  std::vector<int64_t> stop_tokens;   // a row stops after emitting one of these (kept in tokens)
  int64_t pad_token = 0;              // fills the left padding and the rows already stopped
  bool use_cache = true;              // false: the whole sequence again at every step (checks)
  bool keep_logits = false;           // GenerationResult::logits holds each step's [B, V]
  // Called with each new token of each row, in order; returning false stops that row.
  std::function<bool(int64_t row, int64_t token)> on_token;
};

struct GenerationResult {
  std::vector<std::vector<int64_t>> tokens;   // per prompt, the new tokens (a stop token last)
  std::vector<Tensor> logits;                 // keep_logits: per step, float [B, V]
  int64_t prefill_tokens = 0, decode_tokens = 0;   // tokens through the model (no padding)
  double prefill_seconds = 0, decode_seconds = 0;
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
};

// The probabilities sampling draws from, for one row of logits (HF's order: temperature, top-k,
// top-p, softmax). Greedy (temperature 0): 1 on the argmax. Errors name a bad option.
std::vector<double> sampling_distribution(const float* logits, int64_t vocab,
                                          const SamplingOptions& options);
// A token from that distribution (greedy: the argmax, no draw).
int64_t sample_token(const float* logits, int64_t vocab, const SamplingOptions& options,
                     Generator& gen);

// Generates from each prompt (non-empty token ids) until a stop token, on_token's false or
// max_new_tokens. The model runs without autograd; its dtype is kept (logits returned as float32).
GenerationResult generate(LlamaForCausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                          const GenerationOptions& options);

}  // namespace neat
