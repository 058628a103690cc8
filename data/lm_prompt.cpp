// LLM-Adapters' prompt template (data/lm_prompt.h).
#include "data/lm_prompt.h"

#include "tensor/check.h"
#include "text/bpe_tokenizer.h"

namespace neat {

LmPrompt format_lm_prompt(const LmTaskItem& item) {
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
