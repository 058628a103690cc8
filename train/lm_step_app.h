// The lm_step program as a function (tests run it in-process): vit_step's and text_step's twin
// for the LLaMA-family causal LMs train_lm fine-tunes. One forward and backward of a
// LlamaForCausalLM with a fine-tuning method attached, in eval mode (no dropout), on a batch
// from a file, writing the logits, the causal-LM loss and every trainable parameter's gradient,
// so the engine and train_lm's adapters can be checked against transformers + peft
// (tests/parity/check_lm_peft.py):
//
//   lm_step --weights data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --adapter runs/lm/peft
//           --batch batch.safetensors --out step.safetensors
//
//   --weights:          a GGUF file (dequantized to float32) or a Hugging Face directory
//                       (config.json + model.safetensors; no tokenizer needed)
//   batch.safetensors:  input_ids int64 [B, N], labels int64 [B, N] (-100: not counted;
//                       position n predicts label n + 1, as transformers' ForCausalLMLoss) and
//                       optionally attention_mask [B, N] (1 token, 0 padding) and position_ids
//                       [B, N] (default 0 .. N - 1 in every row, as transformers)
//   step.safetensors:   logits [B, N, V], loss [] and grad.<name> per trainable parameter
//
// --adapter: an adapter file train_lm wrote or peft's directory (its adapter_config.json gives
// the method and its settings, given method flags must agree; loaded whole) or any subset of
// the trainable tensors by name. Exit codes: 0 done, 1 an error (one line), 2 a bad command line.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace neat {

int lm_step_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err);

}  // namespace neat
