// LLM-Adapters' Alpaca prompt, the one the Neat paper's LLM runs train and score with
// (AGI-Edgerunners/LLM-Adapters finetune.py generate_prompt, the template without an input),
// and the response the loss is on:
//
//   LmPrompt p = format_lm_prompt(item);
//   p.prompt   == "Below is an instruction that describes a task. Write a response that "
//                 "appropriately completes the request.  \n\n                ### Instruction:\n"
//                 "                " + item.instruction + "\n                \n"
//                 "                ### Response:\n                "
//   p.response == "the correct answer is answer3"         (commonsense: "the correct answer is {answer}")
//              == item.solution                           (gsm8k: the worked answer, "... The answer is 18.")
//   LmTokens t = tokenize_lm_prompt(tok, p);              // prompt ids, then response ids + EOS
//
// The 16-space indents and the two spaces after "request." are LLM-Adapters' own: its
// prompts are Python triple-quoted strings indented with the code, and the paper's models were
// trained on exactly these characters. (Its evaluation scripts indent the same way, with one
// trailing space and no spaces on the empty line; we score with the training prompt.)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/lm_tasks.h"

namespace neat {

class BPETokenizer;

struct LmPrompt { std::string prompt, response; };   // response: the tokens the loss is on

// LLM-Adapters' Alpaca template ("Below is an instruction that describes a task. Write a
// response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n###
// Response:\n", with its indents as above) and its target ("the correct answer is {answer}" for
// commonsense; the worked solution for math, or "The answer is {answer}." when an item has none).
LmPrompt format_lm_prompt(const LmTaskItem& item);

// The prompt and response as token ids, each encoded on its own (so the boundary never merges
// across them, and training and evaluation see the same prompt ids): the prompt after BOS when
// the tokenizer's configuration adds one, the response followed by EOS when add_eos and the
// tokenizer has one (LLM-Adapters' tokenize appends it to every training example). Special
// tokens' texts in the data stay plain text.
struct LmTokens { std::vector<int64_t> prompt, response; };
LmTokens tokenize_lm_prompt(const BPETokenizer& tok, const LmPrompt& prompt, bool add_eos = true);

}  // namespace neat
