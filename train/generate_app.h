// The generate program as a function (tests run it in-process): text from a LLaMA-family model,
// printed as it comes, then one line with the prefill and decode speeds:
//
//   generate --model data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --prompt "The capital of"
//   generate --model SmolLM2-dir --prompt "Hi" --chat --temperature 0.7 --top-p 0.9 --seed 1
//
// --model: a GGUF file (weights, tokenizer and chat template from it, models/llama_gguf.h) or a
// Hugging Face directory (config.json, model.safetensors, tokenizer.json, and for --chat
// tokenizer_config.json's chat_template). --chat wraps the prompt in the model's chat template
// (with --system as the system message). Generation stops at the model's end-of-sequence token,
// at the chat template's end-of-turn token with --chat, at a --stop text (not printed), or after
// --max-new-tokens (--ignore-eos: only the last two). Exit codes: 0 done, 1 an error (one line), 2 a bad command line.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace neat {

int generate_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err);

}  // namespace neat
