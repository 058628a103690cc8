// LLM-Adapters' prompt template and the cloze form (data/lm_prompt.h).
#include "data/lm_prompt.h"

#include "tensor/check.h"
#include "text/bpe_tokenizer.h"

namespace neat {

std::vector<std::string> lm_format_names() { return {"llm-adapters", "cloze"}; }

LmFormat parse_lm_format(const std::string& name) {
  if (name == "llm-adapters") return LmFormat::kLlmAdapters;
  NEAT_CHECK(name == "cloze", "lm prompt: unknown format '", name, "' (known: llm-adapters, cloze)");
  return LmFormat::kCloze;
}

std::string lm_cloze_choice(const LmTaskItem& item, int64_t index) {
  NEAT_CHECK(index >= 0 && index < int64_t(item.choices.size()), "lm prompt: choice ", index,
             " of a ", item.task, " item with ", item.choices.size(), " choices");
  if (item.task == "boolq") return index == 0 ? "yes" : "no";   // oe-eval's / lm-eval's words
  return item.choices[size_t(index)];
}

namespace {

LmPrompt cloze_prompt(const LmTaskItem& item, int64_t index) {
  NEAT_CHECK(!item.query.empty(), "lm prompt: a ", item.task, " item has no cloze query (",
             item.task == "winogrande" ? "lm-eval scores WinoGrande by partial evaluation, "
                                         "which the cloze format does not do"
             : item.task == "gsm8k"    ? "gsm8k has no choices"
                                       : "oe-eval's files carry it, LLM-Adapters' JSON does not",
             "); use --format llm-adapters");
  return {item.query, " " + lm_cloze_choice(item, index)};
}

}  // namespace

LmPrompt format_lm_choice(const LmTaskItem& item, int64_t index, LmFormat format) {
  if (format == LmFormat::kCloze) return cloze_prompt(item, index);
  LmTaskItem as_if = item;
  as_if.answer = lm_choice_answer(item.task, index);
  return format_lm_prompt(as_if);
}

LmPrompt format_lm_prompt(const LmTaskItem& item, LmFormat format) {
  if (format == LmFormat::kCloze) return cloze_prompt(item, item.label);
  const std::string indent(16, ' ');
  LmPrompt p;
  p.prompt = "Below is an instruction that describes a task. Write a response that appropriately "
             "completes the request.  \n\n" +
             indent + "### Instruction:\n" + indent + item.instruction + "\n" + indent + "\n" +
             indent + "### Response:\n" + indent;
  if (item.task == "gsm8k") {
    NEAT_CHECK(!item.solution.empty() || !item.answer.empty(),
               "lm prompt: a gsm8k item with neither a solution nor an answer");
    p.response = item.solution.empty() ? "The answer is " + item.answer + "." : item.solution;
  } else {
    NEAT_CHECK(!item.answer.empty(), "lm prompt: a ", item.task, " item without an answer");
    p.response = "the correct answer is " + item.answer;
  }
  return p;
}

LmTokens tokenize_lm_prompt(const BPETokenizer& tok, const LmPrompt& prompt, bool add_eos) {
  EncodeOptions plain;
  plain.parse_special = false;
  EncodeOptions first = plain;
  first.add_bos = tok.vocab().add_bos && tok.vocab().bos >= 0;
  LmTokens t;
  t.prompt = tok.encode(prompt.prompt, first);
  t.response = tok.encode(prompt.response, plain);
  if (add_eos && tok.vocab().eos >= 0) t.response.push_back(tok.vocab().eos);
  return t;
}

}  // namespace neat
