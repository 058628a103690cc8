// The LM task readers (data/lm_tasks.h): oe-eval requests.jsonl(.gz) and LLM-Adapters' JSON.
#include "data/lm_tasks.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>

#include <zlib.h>

#include "tensor/check.h"
#include "tensor/files.h"
#include "tensor/json.h"

namespace neat {

namespace {

// oe-eval numbers a document's unconditional requests doc_id + this (its uncond_docid_offset).
constexpr int64_t kUncondDocIdOffset = 1000000;
// A decompressed file larger than this is refused (a corrupt or hostile gzip stream).
constexpr size_t kMaxInflated = size_t(1) << 32;

bool is_commonsense(const std::string& task) {
  return task != "gsm8k";
}

void check_task(const std::string& task) {
  const std::vector<std::string> names = lm_task_names();
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  NEAT_CHECK(std::find(names.begin(), names.end(), task) != names.end(), "lm task: unknown task '",
             task, "' (known: ", list, ")");
}

// oe-eval's task_name of each of our tasks.
std::string oe_eval_name(const std::string& task) {
  return task == "siqa" ? "socialiqa" : task;
}

// The bytes of a gzip stream (one or more members), or `bytes` unchanged when they are not gzip.
std::string gunzip_if_gzip(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 2 || uint8_t(bytes[0]) != 0x1f || uint8_t(bytes[1]) != 0x8b) return bytes;
  std::string out;
  z_stream z{};
  NEAT_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, "lm task: ", name, ": zlib init failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = uInt(std::min(bytes.size(), size_t(UINT32_MAX)));
  char buffer[1 << 16];
  int status = Z_OK;
  while (status != Z_STREAM_END || z.avail_in > 0) {
    if (status == Z_STREAM_END) inflateReset(&z);   // the next gzip member
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof(buffer);
    status = inflate(&z, Z_NO_FLUSH);
    const bool ok = (status == Z_OK || status == Z_STREAM_END) && out.size() < kMaxInflated;
    if (!ok || (status == Z_OK && z.avail_in == 0 && z.avail_out != 0)) {
      const std::string why = !ok ? (z.msg ? z.msg : "larger than 4 GiB") : "the stream ends early";
      const size_t offset = bytes.size() - z.avail_in;
      inflateEnd(&z);
      NEAT_CHECK(false, "lm task: ", name, " is a corrupt or truncated gzip file (", why,
                 ", at compressed byte ", offset, ")");
    }
    out.append(buffer, sizeof(buffer) - z.avail_out);
  }
  inflateEnd(&z);
  return out;
}

std::string field_string(const Json& doc, const std::string& key) {
  const Json& v = doc[key];
  return v.is_string() ? v.as_string() : std::to_string(v.as_int());
}

// "Answer1: a Answer2: b" (joined by `sep`) as LLM-Adapters writes a task's options.
std::string numbered(const std::string& word, const std::vector<std::string>& choices,
                     const std::string& sep) {
  std::string text;
  for (size_t i = 0; i < choices.size(); ++i)
    text += (i ? sep : "") + word + std::to_string(i + 1) + ": " + choices[i];
  return text;
}

std::string answer_format(const std::string& task, size_t n) {
  std::string text = "Answer format: ";
  for (size_t i = 0; i < n; ++i) text += (i ? "/" : "") + lm_choice_answer(task, int64_t(i));
  return text;
}

// The question of oe-eval's "Question: {q}\nAnswer:" query (boolq: "... -- passage\nQuestion: ...").
std::string question_of_query(const std::string& query) {
  const std::string head = "Question: ", tail = "\nAnswer:";
  size_t start = query.rfind(head);
  NEAT_CHECK(start != std::string::npos && query.size() >= tail.size() &&
                 query.compare(query.size() - tail.size(), tail.size(), tail) == 0,
             "the query is not \"Question: ...\\nAnswer:\"");
  start += head.size();
  NEAT_CHECK(query.size() - tail.size() >= start, "the query's question is empty");
  return query.substr(start, query.size() - tail.size() - start);
}

std::vector<std::string> string_list(const Json& array) {
  std::vector<std::string> out;
  for (const Json& v : array.as_array()) out.push_back(v.as_string());
  return out;
}

// LLM-Adapters' instruction of a commonsense item from its question (or sentence) and choices.
std::string commonsense_instruction(const std::string& task, const std::string& question,
                                    const std::vector<std::string>& choices) {
  const std::string format = answer_format(task, choices.size());
  if (task == "boolq")
    return "Please answer the following question with true or false, question: " + question +
           "\n\n" + format;
  if (task == "piqa")
    return "Please choose the correct solution to the question: " + question + "\n\n" +
           numbered("Solution", choices, "\n\n") + "\n\n" + format;
  if (task == "hellaswag")
    return "Please choose the correct ending to complete the given sentence: " + question +
           "\n\n" + numbered("Ending", choices, " ") + "\n\n" + format;
  if (task == "winogrande")
    return "Please choose the correct answer to fill in the blank to complete the given "
           "sentence: " + question + "\n\n" + numbered("Option", choices, " ") + " " + format;
  return "Please choose the correct answer to the question: " + question + "\n\n" +
         numbered("Answer", choices, " ") + "\n\n" + format;
}

// One oe-eval document as an item.
LmTaskItem item_from_oe_eval(const std::string& task, const Json& doc) {
  LmTaskItem item;
  item.task = task;
  if (task == "gsm8k") {
    item.instruction = doc["question"].as_string();
    item.answer = field_string(doc, "short_answer");
    // oe-eval's choices[0]: the worked answer without the <<calculator>> notes, "... So the answer is N."
    item.solution = doc["choices"][0].as_string();
    return item;
  }
  std::string question;
  if (task == "boolq") {
    question = question_of_query(doc["query"].as_string());
    item.choices = {"true", "false"};                           // oe-eval's ["yes", "no"]
  } else if (task == "piqa") {
    question = doc["goal"].as_string();
    item.choices = {doc["sol1"].as_string(), doc["sol2"].as_string()};
  } else if (task == "siqa") {
    question = doc["context"].as_string() + " " + doc["question"].as_string();
    item.choices = {doc["answerA"].as_string(), doc["answerB"].as_string(), doc["answerC"].as_string()};
  } else if (task == "winogrande") {
    question = doc["sentence"].as_string();
    item.choices = {doc["option1"].as_string(), doc["option2"].as_string()};
    item.label = std::stoll(field_string(doc, "answer")) - 1;   // "1" / "2"
  } else if (task == "hellaswag") {
    question = doc["query"].as_string();                        // "{activity_label}: {ctx}"
    item.choices = string_list(doc["choices"]);
  } else {                                                      // arc_easy, arc_challenge, openbookqa
    question = question_of_query(doc["query"].as_string());
    item.choices = string_list(doc["choices"]);
  }
  if (task != "winogrande") item.label = doc["gold"].as_int();
  NEAT_CHECK(item.label >= 0 && item.label < int64_t(item.choices.size()), "the gold answer ",
             item.label, " is not one of the ", item.choices.size(), " choices");
  item.instruction = commonsense_instruction(task, question, item.choices);
  item.answer = lm_choice_answer(task, item.label);
  if (task != "winogrande") item.query = doc["query"].as_string();
  return item;
}

std::vector<LmTaskItem> read_oe_eval(const std::string& task, const std::string& text,
                                     const std::string& name) {
  std::vector<LmTaskItem> items;
  std::set<int64_t> seen;
  size_t line_start = 0;
  for (int64_t line = 1; line_start < text.size(); ++line) {
    size_t end = text.find('\n', line_start);
    if (end == std::string::npos) end = text.size();
    const std::string row = text.substr(line_start, end - line_start);
    line_start = end + 1;
    if (row.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const Json request = Json::parse(row);
      const std::string got = request["task_name"].as_string();
      NEAT_CHECK(got == oe_eval_name(task), "a request of task '", got, "', expected '",
                 oe_eval_name(task), "' (", task, ")");
      const int64_t doc_id = request["doc_id"].as_int();
      if (doc_id >= kUncondDocIdOffset || !seen.insert(doc_id).second) continue;
      items.push_back(item_from_oe_eval(task, request["doc"]));
    } catch (const std::exception& e) {
      throw std::runtime_error("lm task: " + name + " line " + std::to_string(line) + ": " + e.what());
    }
  }
  NEAT_CHECK(!items.empty(), "lm task: ", name, " holds no ", task, " items");
  return items;
}

// The choices LLM-Adapters wrote into an instruction: "Answer1: a Answer2: b\n\nAnswer format: ...".
std::vector<std::string> choices_of_instruction(const std::string& task,
                                                const std::string& instruction) {
  if (task == "boolq") return {"true", "false"};
  const size_t format = instruction.rfind("Answer format: ");
  NEAT_CHECK(format != std::string::npos, "the instruction has no \"Answer format: \"");
  const int64_t n = int64_t(std::count(instruction.begin() + int64_t(format), instruction.end(), '/')) + 1;
  std::string word = lm_choice_answer(task, 0);
  word = char(std::toupper(word[0])) + word.substr(1, word.size() - 2);   // "Answer"
  std::vector<std::string> choices;
  for (int64_t i = 1; i <= n; ++i) {
    const std::string marker = word + std::to_string(i) + ": ";
    const size_t start = instruction.find(marker);
    NEAT_CHECK(start != std::string::npos, "the instruction has no \"", marker, "\"");
    size_t stop = i < n ? instruction.find(word + std::to_string(i + 1) + ": ", start) : format;
    NEAT_CHECK(stop != std::string::npos && stop >= start + marker.size(), "the instruction's \"",
               marker, "\" is not followed by option ", i + 1);
    std::string text = instruction.substr(start + marker.size(), stop - start - marker.size());
    text.erase(text.find_last_not_of(" \n") + 1);
    choices.push_back(text);
  }
  return choices;
}

std::vector<LmTaskItem> read_llm_adapters(const std::string& task, const std::string& text,
                                          const std::string& name) {
  Json list;
  try {
    list = Json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error("lm task: " + name + ": " + e.what());
  }
  NEAT_CHECK(list.is_array(), "lm task: ", name, ": expected a JSON list of items");
  std::vector<LmTaskItem> items;
  for (size_t i = 0; i < list.size(); ++i) {
    try {
      const Json& row = list[i];
      LmTaskItem item;
      item.task = task;
      item.instruction = row["instruction"].as_string();
      NEAT_CHECK(row["input"].as_string().empty(), "a non-empty \"input\" (LLM-Adapters' tasks have none)");
      item.answer = row["answer"].as_string();
      if (task == "gsm8k") {
        item.solution = row["output"].as_string();
      } else {
        item.choices = choices_of_instruction(task, item.instruction);
        for (int64_t c = 0; c < int64_t(item.choices.size()); ++c)
          if (lm_choice_answer(task, c) == item.answer) item.label = c;
        NEAT_CHECK(item.label >= 0, "the answer \"", item.answer, "\" is not one of the ",
                   item.choices.size(), " choices' answers");
      }
      items.push_back(std::move(item));
    } catch (const std::exception& e) {
      throw std::runtime_error("lm task: " + name + " item " + std::to_string(i) + ": " + e.what());
    }
  }
  NEAT_CHECK(!items.empty(), "lm task: ", name, " holds no items");
  return items;
}

}  // namespace

std::vector<std::string> lm_task_names() {
  return {"boolq", "piqa", "siqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge",
          "openbookqa", "gsm8k"};
}

std::string lm_choice_answer(const std::string& task, int64_t index) {
  check_task(task);
  NEAT_CHECK(is_commonsense(task), "lm task: gsm8k has no choices");
  NEAT_CHECK(index >= 0, "lm task: choice index ", index, " is negative");
  if (task == "boolq") {
    NEAT_CHECK(index < 2, "lm task: boolq has 2 choices, not ", index + 1);
    return index == 0 ? "true" : "false";
  }
  const std::string word = task == "piqa" ? "solution" : task == "hellaswag" ? "ending"
                         : task == "winogrande" ? "option" : "answer";
  return word + std::to_string(index + 1);
}

std::string lm_task_path(const std::string& data_dir, const std::string& task,
                         const std::string& split) {
  check_task(task);
  NEAT_CHECK(split == "train" || split == "test", "lm task: split '", split,
             "' is not train or test");
  return data_dir + "/lm/" + task + "/" + split + ".jsonl.gz";
}

std::vector<LmTaskItem> parse_lm_task(const std::string& task, const std::string& bytes,
                                      const std::string& name) {
  check_task(task);
  const std::string text = gunzip_if_gzip(bytes, name);
  const size_t first = text.find_first_not_of(" \t\r\n");
  NEAT_CHECK(first != std::string::npos, "lm task: ", name, " is empty");
  if (text[first] == '[') return read_llm_adapters(task, text, name);
  NEAT_CHECK(text[first] == '{', "lm task: ", name,
             " is neither oe-eval requests (JSON lines) nor LLM-Adapters' JSON list (first "
             "character at byte ", first, " is not '{' or '[')");
  return read_oe_eval(task, text, name);
}

std::vector<LmTaskItem> read_lm_task(const std::string& task, const std::string& path) {
  check_task(task);
  return parse_lm_task(task, read_file(path, "lm task"), path);
}

}  // namespace neat
