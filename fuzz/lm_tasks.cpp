// Fuzzes the LM task readers (data/lm_tasks.h): oe-eval requests (JSON lines, plain or gzip) and
// LLM-Adapters' JSON list. The first byte picks the task (of lm_task_names()), the rest is the
// file. Every item read must be whole: a commonsense item's label is one of its choices.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "data/lm_tasks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<std::string> tasks = neat::lm_task_names();
  const std::string& task = tasks[data[0] % tasks.size()];
  std::vector<neat::LmTaskItem> items;
  try {
    items = neat::parse_lm_task(task, std::string(reinterpret_cast<const char*>(data + 1), size - 1),
                                "fuzz");
  } catch (const std::exception&) {
    return 0;
  }
  for (const neat::LmTaskItem& item : items)
    if (task != "gsm8k" && (item.label < 0 || item.label >= int64_t(item.choices.size()))) std::abort();
  return 0;
}
