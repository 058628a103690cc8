// The paper's task evaluations (train/lm_evaluation.h) on SmolLM2-135M-Instruct: accuracy of
// the first N items of a task's split by choice log-likelihood and by generation, with the
// seconds each took. Figures only; says what is missing and exits 0 without the model or data.
//
//   build/bench/bench_lm_eval [TASK [N [BATCH [MAX_NEW_TOKENS [DATA_DIR [N_GENERATE]]]]]]
//   build/bench/bench_lm_eval arc_easy 200 8 32 data 200     # the defaults
//
// N_GENERATE: how many of the N items the generation evaluation takes (it is the slower one).
//
// Needs data/smollm2 (make deps) and DATA_DIR/lm (scripts/get_data.sh lm-tasks DATA_DIR); the
// model file can be named by NEAT_SMOLLM2_GGUF. Threads: OMP_NUM_THREADS.
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <fstream>
#include <string>

#include "models/llama.h"
#include "models/llama_gguf.h"
#include "tensor/gguf.h"
#include "text/gguf_tokenizer.h"
#include "train/lm_evaluation.h"

using namespace neat;

namespace {

double cpu_seconds() {   // of the whole process (all threads): beside the wall time on a busy machine
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string task = argc > 1 ? argv[1] : "arc_easy";
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 200;
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 8;
  const int64_t max_new = argc > 4 ? std::atoll(argv[4]) : 32;
  const std::string data = argc > 5 ? argv[5] : "data";
  const int64_t n_generate = argc > 6 ? std::atoll(argv[6]) : n;
  const char* env = std::getenv("NEAT_SMOLLM2_GGUF");
  const std::string model_path = env ? env : "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  const std::string split = lm_task_path(data, task, "test");
  for (const std::string& need : {model_path, split})
    if (!std::ifstream(need).good()) {
      std::printf("bench_lm_eval: %s not found (make deps; scripts/get_data.sh lm-tasks): skipped\n",
                  need.c_str());
      return 0;
    }
  const GgufFile file = read_gguf(model_path);
  std::shared_ptr<LlamaForCausalLM> model = load_llama_gguf(file);
  const BPETokenizer tok = gguf_tokenizer(file);
  std::vector<LmTaskItem> items = read_lm_task(task, split);
  if (int64_t(items.size()) > n) items.resize(size_t(n));
  std::printf("%s: the first %zu items of %s, batch %lld\n", task.c_str(), items.size(),
              split.c_str(), (long long)batch);
  double cpu = cpu_seconds();
  if (task != "gsm8k") {
    const LmEvaluation e = evaluate_by_choice_likelihood(*model, tok, items, batch);
    std::printf("  choice likelihood: acc %.4f  acc_norm %.4f  (%lld / %lld)  %.1f s, %.3f s/item\n",
                e.accuracy(), e.accuracy_norm(), (long long)e.correct, (long long)e.total,
                e.seconds, e.seconds / double(e.total));
    std::printf("    cpu %.1f s (all threads)\n", cpu_seconds() - cpu);
    cpu = cpu_seconds();
  }
  if (int64_t(items.size()) > n_generate) items.resize(size_t(n_generate));
  const LmEvaluation g = evaluate_by_generation(*model, tok, items, max_new, batch);
  int64_t answered = 0;
  for (const auto& p : g.predictions) answered += !p.empty();
  std::printf("  generation (greedy, <= %lld tokens): acc %.4f  (%lld / %lld, %lld with an answer)"
              "  %.1f s, %.3f s/item\n", (long long)max_new, g.accuracy(), (long long)g.correct,
              (long long)g.total, (long long)answered, g.seconds, g.seconds / double(g.total));
  std::printf("    cpu %.1f s (all threads)\n", cpu_seconds() - cpu);
  for (size_t i = 0; i < std::min<size_t>(3, g.outputs.size()); ++i)
    std::printf("  output %zu: \"%s\" (answer %s)\n", i, g.outputs[i].c_str(), items[i].answer.c_str());
  return 0;
}
