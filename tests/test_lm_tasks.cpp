// The LM task readers (data/lm_tasks.h) on the committed fixtures in the real formats
// (tests/data/lm/README.md): oe-eval's requests.jsonl.gz and LLM-Adapters' JSON; the cloze
// form (data/lm_prompt.h) against oe-eval's own requests.
#include <doctest/doctest.h>

#include <zlib.h>

#include <algorithm>

#include "data/lm_prompt.h"
#include "data/lm_tasks.h"
#include "tensor/files.h"
#include "tensor/json.h"
#include "tests/op_test_util.h"

using namespace neat;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

const std::string kDir = "tests/data/lm/";

std::string gzip_bytes(const std::string& text) {
  uLongf size = compressBound(uLong(text.size())) + 32;
  std::string out(size, '\0');
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = uInt(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// The fixture's JSON lines (each fixture is far below 1 MiB).
std::string plain(const std::string& task) {
  const std::string gz = read_file(kDir + task + ".jsonl.gz");
  std::string out(size_t(1) << 20, '\0');
  z_stream z{};
  inflateInit2(&z, 16 + MAX_WBITS);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = uInt(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  REQUIRE(inflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

}  // namespace

TEST_CASE("lm tasks: names, answer words, paths") {
  CHECK(lm_task_names().size() == 9);
  CHECK(lm_choice_answer("boolq", 1) == "false");
  CHECK(lm_choice_answer("piqa", 0) == "solution1");
  CHECK(lm_choice_answer("hellaswag", 3) == "ending4");
  CHECK(lm_choice_answer("winogrande", 1) == "option2");
  CHECK(lm_choice_answer("arc_challenge", 4) == "answer5");
  CHECK(lm_task_path("data", "siqa", "train") == "data/lm/siqa/train.jsonl.gz");
  CHECK(mentions(thrown_message([] { lm_choice_answer("gsm8k", 0); }), {"gsm8k has no choices"}));
  CHECK(mentions(thrown_message([] { lm_task_path("d", "mmlu", "test"); }),
                 {"unknown task 'mmlu'", "boolq"}));
  CHECK(mentions(thrown_message([] { lm_task_path("d", "piqa", "validation"); }), {"validation"}));
}

TEST_CASE("lm tasks: every task's oe-eval fixture reads as LLM-Adapters' items") {
  for (const std::string& task : lm_task_names()) {
    CAPTURE(task);
    const std::vector<LmTaskItem> items = read_lm_task(task, kDir + task + ".jsonl.gz");
    CHECK(items.size() == (task == "arc_easy" ? 8u : 2u));   // the uncond requests skipped
    for (const LmTaskItem& item : items) {
      CHECK(item.task == task);
      if (task == "gsm8k") {
        CHECK(item.choices.empty());
        CHECK(item.label == -1);
        continue;
      }
      REQUIRE(item.label >= 0);
      REQUIRE(item.label < int64_t(item.choices.size()));
      CHECK(item.answer == lm_choice_answer(task, item.label));
      CHECK(item.solution.empty());
    }
  }
  const std::vector<LmTaskItem> hs = read_lm_task("hellaswag", kDir + "hellaswag.jsonl.gz");
  CHECK(hs[0].instruction ==
        "Please choose the correct ending to complete the given sentence: Roof shingle removal: A "
        "man is sitting on a roof. He\n\nEnding1: is using wrap to wrap a pair of skis. Ending2: "
        "is ripping level tiles off. Ending3: is holding a rubik's cube. Ending4: starts pulling "
        "up roofing on a roof.\n\nAnswer format: ending1/ending2/ending3/ending4");
  CHECK(hs[0].answer == "ending4");
  const std::vector<LmTaskItem> math = read_lm_task("gsm8k", kDir + "gsm8k.jsonl.gz");
  CHECK(math[0].answer == "18");
  CHECK(math[0].solution == "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 "
                            "every day at the farmer\xE2\x80\x99s market. So the answer is 18.");
}

TEST_CASE("lm tasks: the oe-eval items are LLM-Adapters' own (its test.json's first item)") {
  for (const std::string& task : lm_task_names()) {
    if (task == "hellaswag" || task == "gsm8k") continue;   // not the same first item / no file
    CAPTURE(task);
    const LmTaskItem ours = read_lm_task(task, kDir + task + ".jsonl.gz")[0];
    const LmTaskItem theirs = read_lm_task(task, kDir + "llm_adapters_" + task + ".json")[0];
    CHECK(ours.instruction == theirs.instruction);
    CHECK(ours.answer == theirs.answer);
    CHECK(ours.label == theirs.label);
    CHECK(ours.choices == theirs.choices);
  }
  const std::vector<LmTaskItem> piqa = read_lm_task("piqa", kDir + "llm_adapters_piqa.json");
  CHECK(piqa[0].choices[1].rfind("Provide the guinea pig with a cage full of a few inches of "
                                 "bedding made of ripped jeans material", 0) == 0);
  const std::vector<LmTaskItem> math = read_lm_task("gsm8k", kDir + "llm_adapters_gsm8k.json");
  CHECK(math[0].answer == "576.0");
  CHECK(math[0].solution.rfind("\nA: He needs 24 tiles for every square foot.", 0) == 0);
}

TEST_CASE("lm prompt: the cloze form is oe-eval's request (its query, \" \" + the option), exactly") {
  const LmTaskItem arc = read_lm_task("arc_easy", kDir + "arc_easy.jsonl.gz")[0];
  const LmPrompt p = format_lm_prompt(arc, LmFormat::kCloze);
  CHECK(p.prompt == "Question: Which statement best explains why photosynthesis is the foundation "
                    "of most food webs?\nAnswer:");
  CHECK(p.response == " Sunlight is the source of energy for nearly all ecosystems.");
  CHECK(format_lm_choice(arc, 3, LmFormat::kCloze).response == " The producers in all ecosystems are plants.");
  CHECK(format_lm_choice(arc, 1, LmFormat::kLlmAdapters).response == "the correct answer is answer2");
  const LmTaskItem piqa = read_lm_task("piqa", kDir + "piqa.jsonl.gz")[0];
  CHECK(format_lm_prompt(piqa, LmFormat::kCloze).prompt ==
        "Goal: How do I ready a guinea pig cage for it's new occupants?\nAnswer:");
  const LmTaskItem boolq = read_lm_task("boolq", kDir + "boolq.jsonl.gz")[0];
  CHECK(boolq.query.rfind("Ethanol fuel -- All biomass goes through", 0) == 0);
  CHECK(format_lm_choice(boolq, 0, LmFormat::kCloze).response == " yes");   // not LLM-Adapters' "true"
  CHECK(format_lm_prompt(boolq, LmFormat::kCloze).response == " no");
  // Every request of every fixture (but WinoGrande's partial evaluation): the continuation is
  // the choice's response, the 5-shot context ends with its prompt.
  for (const std::string& task : lm_task_names()) {
    if (task == "winogrande" || task == "gsm8k") continue;
    CAPTURE(task);
    const std::vector<LmTaskItem> items = read_lm_task(task, kDir + task + ".jsonl.gz");
    const std::string lines = plain(task);
    int64_t checked = 0;
    for (size_t start = 0, end; start < lines.size(); start = end + 1) {
      end = std::min(lines.find('\n', start), lines.size());
      const Json request = Json::parse(lines.substr(start, end - start));
      const int64_t doc = request["doc_id"].as_int();
      if (doc >= 1000000) continue;
      const LmPrompt c = format_lm_choice(items[size_t(doc)], request["idx"].as_int(), LmFormat::kCloze);
      const std::string context = request["request"]["context"].as_string();
      CHECK(request["request"]["continuation"].as_string() == c.response);
      CHECK(context.size() > c.prompt.size());
      CHECK(context.compare(context.size() - c.prompt.size(), c.prompt.size(), c.prompt) == 0);
      ++checked;
    }
    CHECK(checked == int64_t(items.size() * items[0].choices.size()));
  }
  CHECK(parse_lm_format("llm-adapters") == LmFormat::kLlmAdapters);
  CHECK(parse_lm_format("cloze") == LmFormat::kCloze);
  CHECK(mentions(thrown_message([] { parse_lm_format("mmlu"); }), {"'mmlu'", "llm-adapters, cloze"}));
  const LmTaskItem wino = read_lm_task("winogrande", kDir + "winogrande.jsonl.gz")[0];
  CHECK(wino.query.empty());
  CHECK(mentions(thrown_message([&] { format_lm_prompt(wino, LmFormat::kCloze); }),
                 {"winogrande item has no cloze query", "partial evaluation"}));
  const LmTaskItem json = read_lm_task("arc_easy", kDir + "llm_adapters_arc_easy.json")[0];
  CHECK(mentions(thrown_message([&] { format_lm_prompt(json, LmFormat::kCloze); }),
                 {"no cloze query", "LLM-Adapters' JSON does not"}));
  CHECK(mentions(thrown_message([&] { format_lm_choice(arc, 4, LmFormat::kCloze); }),
                 {"choice 4", "4 choices"}));
}

TEST_CASE("lm tasks: damaged files name the file, the line or item, and what is wrong") {
  const std::string lines = plain("piqa");
  const std::string gz = gzip_bytes(lines);
  CHECK(parse_lm_task("piqa", gz, "p").size() == 2);
  CHECK(parse_lm_task("piqa", lines, "p").size() == 2);   // plain text reads too
  CHECK(mentions(thrown_message([&] { parse_lm_task("piqa", gz.substr(0, gz.size() / 2), "p.gz"); }),
                 {"p.gz", "corrupt or truncated gzip"}));
  std::string flipped = gz;
  flipped[flipped.size() / 2] ^= 0x55;
  CHECK(mentions(thrown_message([&] { parse_lm_task("piqa", flipped, "p.gz"); }), {"p.gz", "gzip"}));
  CHECK(mentions(thrown_message([&] { parse_lm_task("siqa", lines, "p"); }),
                 {"p line 1", "task 'piqa'", "expected 'socialiqa'"}));
  const size_t second = lines.find('\n') + 1;
  CHECK(mentions(thrown_message([&] { parse_lm_task("piqa", lines.substr(0, second) + "{\"x\": ", "p"); }),
                 {"p line 2", "json"}));
  std::string no_goal = lines;
  no_goal.replace(no_goal.find("\"goal\""), 6, "\"gaol\"");
  CHECK(mentions(thrown_message([&] { parse_lm_task("piqa", no_goal, "p"); }), {"p line 1", "goal"}));
  std::string bad_label = lines;
  bad_label.replace(bad_label.find("\"gold\": 0"), 9, "\"gold\": 7");
  CHECK(mentions(thrown_message([&] { parse_lm_task("piqa", bad_label, "p"); }),
                 {"p line 1", "gold answer 7", "2 choices"}));
  CHECK(mentions(thrown_message([] { parse_lm_task("piqa", "", "e"); }), {"e is empty"}));
  CHECK(mentions(thrown_message([] { parse_lm_task("piqa", "hello", "h"); }),
                 {"h is neither", "byte 0"}));
  CHECK(mentions(thrown_message([] { read_lm_task("piqa", "no/such.jsonl.gz"); }),
                 {"no/such.jsonl.gz"}));
  const std::string json = read_file(kDir + "llm_adapters_arc_easy.json");
  std::string wrong = json;
  wrong.replace(wrong.find("\"answer1\""), 9, "\"answer9\"");
  CHECK(mentions(thrown_message([&] { parse_lm_task("arc_easy", wrong, "a.json"); }),
                 {"a.json item 0", "answer9", "4 choices"}));
  CHECK(mentions(thrown_message([&] { parse_lm_task("arc_easy", json.substr(0, 100), "a.json"); }),
                 {"a.json", "json"}));
  CHECK(mentions(thrown_message([&] { parse_lm_task("boolq", json, "a.json"); }),
                 {"a.json item 0", "\"answer1\" is not one of the 2"}));
}
