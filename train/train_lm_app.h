// The train_lm program as a function, so tests can run it in-process:
//
//   std::ostringstream out, err;
//   int code = train_lm_main({"--task", "arc_easy", "--method", "neat", "--train-items", "300"}, out, err);
//
// Causal-LM fine-tuning of a LLaMA-family model (--weights: a GGUF file or a Hugging Face
// directory, default SmolLM2-135M-Instruct from `make deps`) on one of the Neat paper's tasks
// (data/lm_tasks.h) in LLM-Adapters' prompt (data/lm_prompt.h), the loss on the response
// only; scored on a slice of the task's test split by choice log-likelihood or by generation
// with the paper's answer extraction (train/lm_evaluation.h). Built on the run skeleton
// (train/run_skeleton.h): the same run directories, --resume, exit codes (0 done, 1 an error,
// 2 a bad command line, 128 + signal when interrupted after a checkpoint) and outputs as
// train_vit and train_text: results.json (test_accuracy: the task accuracy), log.csv,
// curves.svg, adapter.safetensors, peft/ (base_model.model.model.layers.N.self_attn.q_proj.
// lora_A.weight, ...), checkpoint.safetensors, and with --merge model.safetensors and
// config.json (LlamaForCausalLM, adapters folded in).
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace neat {

// LLM-Adapters' LoRA targets for LLaMA (and the DoRA and Neat papers' commonsense runs): the
// default --*-targets of train_lm and lm_step.
inline constexpr const char* kLlamaDefaultTargets = "q,k,v,up,down";

int train_lm_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err);

// "q,k,v,up,down" (or qv, qvmlp, or the module names themselves) -> the LLaMA module names
// "q_proj,k_proj,v_proj,up_proj,down_proj"; error naming an unknown item.
std::string llama_targets(const std::string& targets);

}  // namespace neat
