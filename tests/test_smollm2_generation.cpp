// SmolLM2-135M-Instruct from its GGUF file (models/llama_gguf.h) against transformers'
// LlamaForCausalLM on gguf-py's dequantization of the same file
// (tests/parity/make_smollm2_reference.py): the last position's logits of three prompts at
// their 20 largest and at 64 fixed ids, and a 32-token greedy continuation, token for token.
// Skipped with the reason when the file is absent (make deps fetches it).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "models/generation.h"
#include "models/llama_gguf.h"
#include "tensor/json.h"
#include "tests/skip.h"
#include "train/system.h"

using namespace neat;

namespace {

std::vector<int64_t> ints(const Json& array) {
  std::vector<int64_t> out;
  for (const Json& v : array.as_array()) out.push_back(v.as_int());
  return out;
}

}  // namespace

TEST_CASE("smollm2 gguf: logits and a 32-token greedy continuation as transformers computes") {
  const char* env = std::getenv("NEAT_SMOLLM2_GGUF");
  const std::string path = env != nullptr ? env : "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::ifstream(path).good()) return test::skip(path + " not found (make deps fetches it)");
  const Json ref = Json::parse(read_file("tests/parity/smollm2_generation_reference.json"));
  const ScopedThreads single(1);   // no OpenMP barriers to spin at on a busy machine
  std::shared_ptr<LlamaForCausalLM> model = load_llama_gguf(read_gguf(path));
  const int64_t V = model->config().vocab_size;
  REQUIRE(V == 49152);

  GenerationOptions one;
  one.max_new_tokens = 1;
  one.keep_logits = true;
  for (const Json& prompt : ref["prompts"].as_array()) {
    CAPTURE(prompt["text"].as_string());
    const GenerationResult r = generate(*model, {ints(prompt["ids"])}, one);
    const float* logits = r.logits[0].data<float>();
    const double scale = prompt["max_abs"].as_number();
    double worst = 0;
    for (const char* which : {"top", "fixed"}) {
      const std::vector<int64_t> ids = ints(prompt[std::string(which) + "_ids"]);
      const Json& values = prompt[std::string(which) + "_logits"];
      for (size_t i = 0; i < ids.size(); ++i)
        worst = std::max(worst, std::fabs(logits[ids[i]] - values[i].as_number()));
    }
    // 30 layers of float32 in another order of summation: ~1e-6 of the logits' magnitude.
    CHECK_MESSAGE(worst <= 2e-5 * scale, "largest difference ", worst, " (logits to ", scale, ")");
    CHECK(r.tokens[0][0] == prompt["top_ids"][0].as_int());
  }

  GenerationOptions greedy;
  greedy.max_new_tokens = 32;
  const GenerationResult r = generate(*model, {ints(ref["prompts"][0]["ids"])}, greedy);
  CHECK(r.tokens[0] == ints(ref["greedy_ids"]));
}
