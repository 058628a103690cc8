// The Neat paper's two ways of scoring a causal LM on its tasks (data/lm_tasks.h), both with
// LLM-Adapters' prompt (data/lm_prompt.h):
//
//  * generation: greedy decoding of up to max_new_tokens after the prompt, then LLM-Adapters'
//    extract_answer (commonsense_evaluate.py: the first of the task's answer words, e.g.
//    "answer1|answer2|...", in the text; evaluate.py for math: the last number, commas removed,
//    right when within 0.001 of the answer). The paper decodes with 4 beams; we decode greedily.
//  * choice log-likelihood (lm-eval-harness's loglikelihood): for each choice, the sum of
//    log p(tokens of the response that choice would give | prompt), "the correct answer is
//    answer2" for choice 2 in LLM-Adapters' format, " " + the option's text in the cloze
//    format (data/lm_prompt.h's LmFormat); the argmax is the prediction; acc_norm divides each
//    sum by a length in characters (Unicode code points) first, as lm-eval's acc_norm
//    (len(choice) in Python): of the option's text without the leading space (cloze), of the
//    response (LLM-Adapters', where every choice's is as long). The prompt and the
//    continuations' common prefix go through the model once per item, then only each choice's
//    remaining tokens (from a copy of the KV cache).
//
//   std::vector<LmTaskItem> items = read_lm_task("arc_easy", lm_task_path("data", "arc_easy", "test"));
//   LmEvaluation e = evaluate_by_choice_likelihood(model, tok, items, /*batch_size=*/8);
//   LmEvaluation c = evaluate_by_choice_likelihood(model, tok, items, 8, LmFormat::kCloze);
//   e.accuracy();  e.accuracy_norm();  e.choice_logprobs[0][2];   // log p(choice 3 of item 0)
//   LmEvaluation g = evaluate_by_generation(model, tok, items, /*max_new_tokens=*/32, 8);
//   g.outputs[0];   // "the correct answer is answer1"
//   extract_lm_answer("arc_easy", g.outputs[0]) == "answer1";
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/lm_prompt.h"
#include "data/lm_tasks.h"

namespace neat {

class LlamaForCausalLM;
class BPETokenizer;

struct LmEvaluation {
  int64_t correct = 0, total = 0;
  double accuracy() const;   // correct / total (0 when total is 0)
  // Generation: each item's generated text (up to a "### Response:" the model wrote itself,
  // trimmed, as LLM-Adapters splits it); likelihood: the answer word of the chosen choice.
  std::vector<std::string> outputs;
  // Generation: the extracted answer ("" when none); likelihood: the chosen choice's answer word
  // (LLM-Adapters' format) or text (cloze).
  std::vector<std::string> predictions;
  // Likelihood only: lm-eval's acc_norm, and per item and choice the summed log-probability.
  int64_t correct_norm = 0;
  double accuracy_norm() const;
  std::vector<std::vector<double>> choice_logprobs;
  double seconds = 0;        // wall time of the evaluation
};

// Generation + the paper's answer extraction (LLM-Adapters' extract_answer: first matching option word for commonsense, last number for gsm8k), greedy, max_new_tokens.
LmEvaluation evaluate_by_generation(LlamaForCausalLM& model, const BPETokenizer& tok,
                                    const std::vector<LmTaskItem>& items, int64_t max_new_tokens,
                                    int64_t batch_size);

// Choice log-likelihood (lm-eval-harness style): the sum of log p(choice tokens | prompt) for each choice; the argmax is the prediction (also report length-normalised accuracy as lm-eval's acc_norm).
LmEvaluation evaluate_by_choice_likelihood(LlamaForCausalLM& model, const BPETokenizer& tok,
                                           const std::vector<LmTaskItem>& items,
                                           int64_t batch_size,
                                           LmFormat format = LmFormat::kLlmAdapters);

// What acc_norm divides choice `index`'s log-likelihood by: the characters (code points) of its
// text in `format` (the option's text for kCloze, the response for kLlmAdapters).
double lm_choice_norm_length(const LmTaskItem& item, int64_t index, LmFormat format);

// The answer the paper's extraction takes from a generated text ("" when none).
std::string extract_lm_answer(const std::string& task, const std::string& generated);

// Whether an extracted answer is the item's: the same word (commonsense), or a number within
// 0.001 of the answer (gsm8k, as LLM-Adapters' evaluate.py).
bool lm_answer_correct(const LmTaskItem& item, const std::string& extracted);

}  // namespace neat
