// LLM-Adapters' prompt (data/lm_prompt.h) and the two evaluations (train/lm_evaluation.h):
// exact strings, the answer extraction's cases, both evaluations on a tiny random LLaMA
// (against a plain forward of every choice, in both formats; acc_norm per character; a model
// made to always say "answer2"), and
// SmolLM2's choice log-likelihoods against transformers (skipped without data/smollm2).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "autograd/variable.h"
#include "models/llama.h"
#include "models/llama_gguf.h"
#include "tensor/files.h"
#include "tensor/gguf.h"
#include "tensor/json.h"
#include "tensor/softmax.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "tests/tiny_llama.h"
#include "text/bpe_tokenizer.h"
#include "text/byte_level.h"
#include "text/gguf_tokenizer.h"
#include "text/unicode.h"
#include "data/lm_prompt.h"
#include "train/lm_evaluation.h"

using namespace neat;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

const std::string kDir = "tests/data/lm/";
constexpr int64_t kEos = 256, kAnswer2 = 257;

// Every byte a token (id = the byte), "<eos>" (control) and "answer2" (user-defined: always one
// token), no merges.
BPETokenizer byte_tokenizer() {
  BPEVocab v;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(byte_symbol(static_cast<unsigned char>(b)));
  v.tokens.insert(v.tokens.end(), {"<eos>", "answer2"});
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  v.types[kEos] = TokenType::kControl;
  v.types[kAnswer2] = TokenType::kUserDefined;
  v.eos = kEos;
  return BPETokenizer(std::move(v));
}

LlamaForCausalLM tiny_model() {
  LlamaConfig c = test::tiny_llama_config();
  c.vocab_size = 258;
  return LlamaForCausalLM(c);
}

// The tiny model made to predict "answer2" at every position: the last layer writes 1000 into
// dimension 0 of the residual stream, the final norm keeps only that dimension (sqrt(D) after
// normalisation), and lm_head reads it into the logit of "answer2" alone (about 12, others 0).
void make_it_say_answer2(LlamaForCausalLM& model) {
  const int64_t D = model.config().hidden, V = model.config().vocab_size;
  const int64_t last = model.config().layers - 1;
  model.parameter("model.layers." + std::to_string(last) + ".mlp.down_proj.bias").data().data<float>()[0] = 1000;
  float* norm = model.parameter("model.norm.weight").data().data<float>();
  for (int64_t d = 0; d < D; ++d) norm[d] = d == 0 ? 1.f : 0.f;
  float* head = model.parameter("lm_head.weight").data().data<float>();
  for (int64_t i = 0; i < V * D; ++i) head[i] = 0;
  head[kAnswer2 * D] = 5;
}

std::vector<LmTaskItem> mixed_items() {   // 4 + 2 + 2 choices, prompts of different lengths
  std::vector<LmTaskItem> items = read_lm_task("arc_easy", kDir + "arc_easy.jsonl.gz");
  items.resize(3);
  for (const char* task : {"winogrande", "boolq"})
    for (const LmTaskItem& item : read_lm_task(task, kDir + task + ".jsonl.gz")) items.push_back(item);
  return items;
}

// log p(response | prompt) by one plain forward of prompt + response (no cache, no padding).
double direct_logprob(LlamaForCausalLM& model, const BPETokenizer& tok, const LmTaskItem& item,
                      int64_t choice, LmFormat format = LmFormat::kLlmAdapters) {
  const LmTokens t = tokenize_lm_prompt(tok, format_lm_choice(item, choice, format), /*add_eos=*/false);
  std::vector<int64_t> ids = t.prompt;
  ids.insert(ids.end(), t.response.begin(), t.response.end());
  NoGradGuard no_grad;
  const Tensor logp = log_softmax(model.forward(from_vector(ids, {1, int64_t(ids.size())})).data(), -1);
  const int64_t V = model.config().vocab_size;
  double sum = 0;
  for (size_t k = 0; k < t.response.size(); ++k)
    sum += logp.data<float>()[int64_t(t.prompt.size() + k - 1) * V + t.response[k]];
  return sum;
}

}  // namespace

TEST_CASE("lm prompt: LLM-Adapters' template, its indents and targets, exactly") {
  LmTaskItem item;
  item.task = "piqa";
  item.instruction = "Q?\n\nSolution1: a\n\nSolution2: b\n\nAnswer format: solution1/solution2";
  item.choices = {"a", "b"};
  item.label = 1;
  item.answer = "solution2";
  const LmPrompt p = format_lm_prompt(item);
  CHECK(p.prompt ==
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.  \n\n                ### Instruction:\n                Q?\n\n"
        "Solution1: a\n\nSolution2: b\n\nAnswer format: solution1/solution2\n                \n"
        "                ### Response:\n                ");
  CHECK(p.response == "the correct answer is solution2");
  const LmTaskItem math = read_lm_task("gsm8k", kDir + "gsm8k.jsonl.gz")[0];
  CHECK(format_lm_prompt(math).response == math.solution);
  LmTaskItem bare = math;
  bare.solution.clear();
  CHECK(format_lm_prompt(bare).response == "The answer is 18.");
  const BPETokenizer tok = byte_tokenizer();
  const LmTokens t = tokenize_lm_prompt(tok, {"ab<eos>", "answer2 x"});
  CHECK(t.prompt.size() == 7);   // the data's "<eos>" stays text
  CHECK(t.response == std::vector<int64_t>{kAnswer2, ' ', 'x', kEos});
  CHECK(tokenize_lm_prompt(tok, {"a", "b"}, /*add_eos=*/false).response == std::vector<int64_t>{'b'});
}

TEST_CASE("lm answer extraction: LLM-Adapters' extract_answer cases") {
  CHECK(extract_lm_answer("arc_easy", "the correct answer is answer3") == "answer3");
  CHECK(extract_lm_answer("arc_easy", "answer4 or answer1") == "answer4");   // the first
  CHECK(extract_lm_answer("openbookqa", "xanswer5y") == "answer5");
  CHECK(extract_lm_answer("arc_challenge", "Answer1: the sun") == "");     // case-sensitive
  CHECK(extract_lm_answer("siqa", "answer6") == "");
  CHECK(extract_lm_answer("boolq", "the correct answer is false, not true") == "false");
  CHECK(extract_lm_answer("boolq", "True") == "");
  CHECK(extract_lm_answer("piqa", "solution2 solution1") == "solution2");
  CHECK(extract_lm_answer("hellaswag", "ending5 ending3") == "ending3");
  CHECK(extract_lm_answer("winogrande", "option2") == "option2");
  // gsm8k: the last number after removing commas (re.findall(r'-?\d+\.?\d*'))
  CHECK(extract_lm_answer("gsm8k", "She sells 9 eggs for $18. The answer is 1,234.") == "1234.");
  CHECK(extract_lm_answer("gsm8k", "from -3 to -4.5") == "-4.5");
  CHECK(extract_lm_answer("gsm8k", "x-y 7-2") == "-2");
  CHECK(extract_lm_answer("gsm8k", "no number") == "");
  LmTaskItem math;
  math.task = "gsm8k";
  math.answer = "576.0";
  CHECK(lm_answer_correct(math, "576"));
  CHECK(lm_answer_correct(math, "576.0009"));
  CHECK_FALSE(lm_answer_correct(math, "576.01"));
  CHECK_FALSE(lm_answer_correct(math, ""));
  LmTaskItem arc = read_lm_task("arc_easy", kDir + "arc_easy.jsonl.gz")[0];
  CHECK(lm_answer_correct(arc, "answer1"));
  CHECK_FALSE(lm_answer_correct(arc, "answer2"));
}

TEST_CASE("lm choice likelihood: each choice's log p as a plain forward computes it, any batch") {
  LlamaForCausalLM model = tiny_model();
  const BPETokenizer tok = byte_tokenizer();
  const std::vector<LmTaskItem> items = mixed_items();
  const LmEvaluation e = evaluate_by_choice_likelihood(model, tok, items, /*batch_size=*/3);
  REQUIRE(e.choice_logprobs.size() == items.size());
  CHECK(e.total == int64_t(items.size()));
  int64_t correct = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    CAPTURE(i);
    REQUIRE(e.choice_logprobs[i].size() == items[i].choices.size());
    std::vector<double> want;
    for (int64_t c = 0; c < int64_t(items[i].choices.size()); ++c) {
      want.push_back(direct_logprob(model, tok, items[i], c));
      CHECK(std::fabs(e.choice_logprobs[i][size_t(c)] - want.back()) <= 2e-5 * std::fabs(want.back()));
    }
    const int64_t pick = int64_t(std::max_element(want.begin(), want.end()) - want.begin());
    CHECK(e.predictions[i] == lm_choice_answer(items[i].task, pick));
    correct += pick == items[i].label;
  }
  CHECK(e.correct == correct);
  const LmEvaluation one = evaluate_by_choice_likelihood(model, tok, items, 1);
  for (size_t i = 0; i < items.size(); ++i)
    for (size_t c = 0; c < items[i].choices.size(); ++c)
      CHECK(std::fabs(one.choice_logprobs[i][c] - e.choice_logprobs[i][c]) <=
            2e-5 * std::fabs(e.choice_logprobs[i][c]));
  CHECK(mentions(thrown_message([&] { evaluate_by_choice_likelihood(model, tok, items, 0); }),
                 {"batch_size 0"}));
  const std::vector<LmTaskItem> math = read_lm_task("gsm8k", kDir + "gsm8k.jsonl.gz");
  CHECK(mentions(thrown_message([&] { evaluate_by_choice_likelihood(model, tok, math, 2); }),
                 {"gsm8k item has no choices"}));
}

TEST_CASE("lm choice likelihood, cloze: each option's log p as a plain forward; acc_norm per character") {
  LlamaForCausalLM model = tiny_model();
  const BPETokenizer tok = byte_tokenizer();
  std::vector<LmTaskItem> items = read_lm_task("arc_easy", kDir + "arc_easy.jsonl.gz");
  items.resize(4);
  for (const char* task : {"boolq", "piqa", "hellaswag"})
    for (const LmTaskItem& item : read_lm_task(task, kDir + task + ".jsonl.gz")) items.push_back(item);
  items[1].choices[2] = "\xC3\xA9t\xC3\xA9";   // "été": 3 characters, 5 bytes
  const LmEvaluation e = evaluate_by_choice_likelihood(model, tok, items, 3, LmFormat::kCloze);
  REQUIRE(e.choice_logprobs.size() == items.size());
  int64_t correct = 0, correct_norm = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    CAPTURE(i);
    std::vector<double> want, norm;
    for (int64_t c = 0; c < int64_t(items[i].choices.size()); ++c) {
      want.push_back(direct_logprob(model, tok, items[i], c, LmFormat::kCloze));
      CHECK(std::fabs(e.choice_logprobs[i][size_t(c)] - want.back()) <= 2e-5 * std::fabs(want.back()));
      // lm-eval's acc_norm: the sum over len(choice), the option's characters without the " "
      norm.push_back(want.back() / double(utf8_decode(lm_cloze_choice(items[i], c)).size()));
    }
    const int64_t pick = int64_t(std::max_element(want.begin(), want.end()) - want.begin());
    CHECK(e.predictions[i] == lm_cloze_choice(items[i], pick));   // the option's text
    correct += pick == items[i].label;
    correct_norm += std::max_element(norm.begin(), norm.end()) - norm.begin() == items[i].label;
  }
  CHECK(e.correct == correct);
  CHECK(e.correct_norm == correct_norm);
  CHECK(lm_choice_norm_length(items[1], 2, LmFormat::kCloze) == 3);
  CHECK(lm_choice_norm_length(items[0], 0, LmFormat::kCloze) == 59);   // "Sunlight is ... ecosystems."
  CHECK(lm_choice_norm_length(items[4], 0, LmFormat::kCloze) == 3);    // boolq: "yes"
  CHECK(lm_choice_norm_length(items[0], 0, LmFormat::kLlmAdapters) == 29);   // "the correct answer is answer1"
  // A model that prefers one option's words, whatever its position: the option "answer2"
  // (one token here) is chosen in every item that offers it, which no label preference gives.
  make_it_say_answer2(model);
  std::vector<LmTaskItem> two = {items[0], items[1]};
  two[0].choices[3] = "answer2";
  two[1].choices[0] = "answer2";
  const LmEvaluation picked = evaluate_by_choice_likelihood(model, tok, two, 2, LmFormat::kCloze);
  CHECK(picked.predictions == std::vector<std::string>{"answer2", "answer2"});
}

TEST_CASE("lm evaluations: a model that always says answer2 scores the items whose answer it is") {
  LlamaForCausalLM model = tiny_model();
  make_it_say_answer2(model);
  const BPETokenizer tok = byte_tokenizer();
  const std::vector<LmTaskItem> items = read_lm_task("arc_easy", kDir + "arc_easy.jsonl.gz");
  int64_t answer2 = 0;
  for (const LmTaskItem& item : items) answer2 += item.answer == "answer2";
  REQUIRE(answer2 > 0);
  REQUIRE(answer2 < int64_t(items.size()));
  const LmEvaluation e = evaluate_by_choice_likelihood(model, tok, items, 3);
  CHECK(e.correct == answer2);
  CHECK(e.correct_norm == answer2);
  CHECK(e.accuracy() == doctest::Approx(double(answer2) / double(items.size())));
  for (const std::string& p : e.predictions) CHECK(p == "answer2");
  const LmEvaluation g = evaluate_by_generation(model, tok, items, /*max_new_tokens=*/4, 3);
  CHECK(g.correct == answer2);
  for (const std::string& out : g.outputs) CHECK(out == "answer2");   // stopped at the answer
  // gsm8k rows run to max_new_tokens: the last number of "answer2answer2answer2" is 2, not 18
  const LmEvaluation m = evaluate_by_generation(model, tok, read_lm_task("gsm8k", kDir + "gsm8k.jsonl.gz"), 3, 2);
  CHECK(m.outputs[0] == "answer2answer2answer2");
  CHECK(m.predictions[0] == "2");
  CHECK(m.correct == 0);
}

TEST_CASE("lm choice likelihood: SmolLM2 on 8 ARC-Easy items as transformers computes") {
  const char* env = std::getenv("NEAT_SMOLLM2_GGUF");
  const std::string path = env != nullptr ? env : "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::ifstream(path).good()) return test::skip(path + " not found (make deps fetches it)");
  const Json ref = Json::parse(read_file("tests/parity/lm_choice_reference.json"));
  REQUIRE_MESSAGE(ref["version"].as_int() == 1, "rerun tests/parity/make_lm_choice_reference.py");
  const GgufFile file = read_gguf(path);
  std::shared_ptr<LlamaForCausalLM> model = load_llama_gguf(file);
  const BPETokenizer tok = gguf_tokenizer(file);
  const std::vector<LmTaskItem> items = read_lm_task("arc_easy", kDir + "arc_easy.jsonl.gz");
  REQUIRE(items.size() == ref["items"].size());
  const LmEvaluation e = evaluate_by_choice_likelihood(*model, tok, items, 8);
  int64_t correct = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const Json& r = ref["items"][i];
    CAPTURE(r["id"].as_string());
    const LmPrompt p = format_lm_prompt(items[i]);
    CHECK(p.prompt == r["prompt"].as_string());   // the script writes LLM-Adapters' prompt itself
    const LmTokens t = tokenize_lm_prompt(tok, p, false);
    std::vector<int64_t> want_ids;
    for (const Json& id : r["prompt_ids"].as_array()) want_ids.push_back(id.as_int());
    CHECK(t.prompt == want_ids);
    const double scale = r["max_abs_logit"].as_number();
    std::vector<double> want;
    for (size_t c = 0; c < items[i].choices.size(); ++c) {
      want.push_back(r["logprobs"][c].as_number());
      const double tokens = double(r["continuation_ids"][c].size());
      // float32 through 30 layers: each log-probability within ~1e-6 of the logits' scale
      CHECK(std::fabs(e.choice_logprobs[i][c] - want.back()) <= 4e-5 * scale * tokens);
    }
    correct += int64_t(std::max_element(want.begin(), want.end()) - want.begin()) == items[i].label;
  }
  CHECK(e.correct == correct);
  MESSAGE("SmolLM2-135M-Instruct, 8 ARC-Easy items by choice likelihood: ", e.correct, " / 8 (",
          e.seconds, " s)");
}
