// LLM-Adapters' Alpaca prompt, the one the Neat paper's LLM runs train and score with
// (AGI-Edgerunners/LLM-Adapters finetune.py generate_prompt, the template without an input),
// and the response the loss is on; beside it the cloze form of lm-evaluation-harness (the
// question alone, each option's text the continuation):
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
//   LmPrompt c = format_lm_prompt(item, LmFormat::kCloze);
//   c.prompt   == "Question: Which statement best explains ...?\nAnswer:"   (item.query)
//   c.response == " Sunlight is the source of energy for nearly all ecosystems."  (" " + the answer's text)
//   format_lm_choice(item, 2, LmFormat::kCloze).response  // what choice 3 would be
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

// How an item becomes a prompt and response (train_lm --format):
//  * kLlmAdapters: the Alpaca template with the options written out, the response "the correct
//    answer is answer3" (the paper's setting);
//  * kCloze: lm-evaluation-harness's multiple-choice form (its arc_easy, piqa, boolq, ...
//    tasks; oe-eval's "rc" requests): the prompt is the item's query ("Question: {q}\nAnswer:")
//    without the options, the response " " + an option's text (BoolQ's "yes" / "no"), so a
//    choice is scored by the likelihood of its own words, never of a label.
enum class LmFormat { kLlmAdapters, kCloze };

// "llm-adapters" / "cloze" (train_lm's --format values); an unknown name is an error that lists
// the known ones.
std::vector<std::string> lm_format_names();
LmFormat parse_lm_format(const std::string& name);

// The text of choice `index` in the cloze form: the option's text, "yes" / "no" for BoolQ
// (whose LLM-Adapters choices are "true" / "false").
std::string lm_cloze_choice(const LmTaskItem& item, int64_t index);

// LLM-Adapters' Alpaca template ("Below is an instruction that describes a task. Write a
// response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n###
// Response:\n", with its indents as above) and its target ("the correct answer is {answer}" for
// commonsense; the worked solution for math, or "The answer is {answer}." when an item has none).
// kCloze: the item's query and " " + its answer's text; an item without a query (WinoGrande,
// GSM8K, LLM-Adapters' JSON) is an error that says so.
LmPrompt format_lm_prompt(const LmTaskItem& item, LmFormat format = LmFormat::kLlmAdapters);

// The prompt and response the item's choice `index` would be (what choice likelihood scores):
// "the correct answer is answer{index+1}", or " " + lm_cloze_choice(item, index).
LmPrompt format_lm_choice(const LmTaskItem& item, int64_t index, LmFormat format);

// The prompt and response as token ids, each encoded on its own (so the boundary never merges
// across them, and training and evaluation see the same prompt ids): the prompt after BOS when
// the tokenizer's configuration adds one, the response followed by EOS when add_eos and the
// tokenizer has one (LLM-Adapters' tokenize appends it to every training example). Special
// tokens' texts in the data stay plain text.
struct LmTokens { std::vector<int64_t> prompt, response; };
LmTokens tokenize_lm_prompt(const BPETokenizer& tok, const LmPrompt& prompt, bool add_eos = true);

}  // namespace neat
