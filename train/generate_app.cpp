#include "train/generate_app.h"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "models/generation.h"
#include "train/args.h"
#include "train/lm_model.h"
#include "train/options.h"
#include "train/run_support.h"
#include "train/system.h"

namespace neat {

namespace {

struct GenerateOptions {
  std::string model, prompt, system;
  bool chat = false, ignore_eos = false;
  int64_t max_new_tokens = 128;
  double temperature = 0, top_p = 1;
  int64_t top_k = 0, seed = 0, threads = 0;
  std::vector<std::string> stop;
};

// Prints the text of the tokens as they come (each step's new bytes of the whole decode, so
// pieces that only render beside their neighbours come out right); a --stop text ends the row
// and is not printed, so a tail that may begin one is held back until it cannot.
class Streamer {
 public:
  Streamer(const BPETokenizer& tokenizer, std::vector<std::string> stops, std::ostream& out)
      : tokenizer_(tokenizer), stops_(std::move(stops)), out_(out) {}

  bool on_token(int64_t id) {
    ids_.push_back(id);
    const std::string text = tokenizer_.decode(ids_, /*skip_special=*/true);
    size_t end = std::string::npos;
    for (const std::string& stop : stops_) end = std::min(end, text.find(stop, 0));
    if (end != std::string::npos) {
      print(text, end);
      return false;
    }
    size_t hold = 0;   // the longest tail that is the start of a stop text
    for (const std::string& stop : stops_)
      for (size_t n = std::min(stop.size() - 1, text.size()); n > hold; --n)
        if (text.compare(text.size() - n, n, stop, 0, n) == 0) {
          hold = n;
          break;
        }
    print(text, text.size() - hold);
    return true;
  }
  void finish() {   // a held tail that no stop text completed
    if (stopped_) return;
    print(tokenizer_.decode(ids_, true), std::string::npos);
  }
  void stop() { stopped_ = true; }

 private:
  void print(const std::string& text, size_t end) {
    end = std::min(end, text.size());
    if (end > printed_) out_ << text.substr(printed_, end - printed_) << std::flush;
    printed_ = std::max(printed_, end);
  }
  const BPETokenizer& tokenizer_;
  std::vector<std::string> stops_;
  std::ostream& out_;
  std::vector<int64_t> ids_;
  size_t printed_ = 0;
  bool stopped_ = false;
};

int run(const GenerateOptions& go, std::ostream& out) {
  const ScopedThreads threads(go.threads);
  const LoadedLlama m = load_llama_model(go.model, go.chat, "--model");
  const BPETokenizer& tok = *m.tokenizer;
  NEAT_CHECK(tok.vocab_size() <= m.model->config().vocab_size, "--model ", go.model,
             ": the tokenizer has ", tok.vocab_size(), " tokens, the model ",
             m.model->config().vocab_size);
  std::string text = go.prompt;
  if (go.chat) {
    std::vector<ChatMessage> messages;
    if (!go.system.empty()) messages.push_back({"system", go.system});
    messages.push_back({"user", go.prompt});
    text = m.chat.apply(messages, /*add_generation_prompt=*/true);
  }
  EncodeOptions encode;
  encode.add_bos = tok.vocab().add_bos;
  const std::vector<int64_t> ids = tok.encode(text, encode);
  NEAT_CHECK(!ids.empty(), "--prompt: no token (an empty prompt and no bos token)");

  GenerationOptions o;
  o.max_new_tokens = go.max_new_tokens;
  o.sampling = {go.temperature, go.top_k, go.top_p, uint64_t(go.seed)};
  if (tok.vocab().eos >= 0 && !go.ignore_eos) o.stop_tokens.push_back(tok.vocab().eos);
  const int64_t end_of_turn = tok.id_of("<|im_end|>");
  if (go.chat && end_of_turn >= 0) o.stop_tokens.push_back(end_of_turn);
  o.pad_token = tok.vocab().pad >= 0 ? tok.vocab().pad : 0;
  Streamer streamer(tok, go.stop, out);
  o.on_token = [&](int64_t, int64_t id) {
    if (std::find(o.stop_tokens.begin(), o.stop_tokens.end(), id) != o.stop_tokens.end())
      return false;
    if (streamer.on_token(id)) return true;
    streamer.stop();
    return false;
  };
  const GenerationResult r = generate(*m.model, {ids}, o);
  streamer.finish();
  char line[200];
  std::snprintf(line, sizeof line,
                "\nprefill: %lld tokens, %.1f tokens/s; decode: %lld tokens, %.1f tokens/s\n",
                static_cast<long long>(r.prefill_tokens), r.prefill_tokens_per_second(),
                static_cast<long long>(r.decode_tokens), r.decode_tokens_per_second());
  out << line;
  return 0;
}

void check_options(const GenerateOptions& go, const ArgParser& args) {
  if (go.model.empty() || !args.was_set("--prompt"))
    throw UsageError("--model and --prompt are required");
  if (go.max_new_tokens < 0) throw UsageError("--max-new-tokens must be >= 0");
  if (!(go.temperature >= 0)) throw UsageError("--temperature must be >= 0 (0: greedy)");
  if (go.top_k < 0) throw UsageError("--top-k must be >= 0 (0: no limit)");
  if (!(go.top_p > 0 && go.top_p <= 1)) throw UsageError("--top-p must be in (0, 1]");
  if (go.seed < 0) throw UsageError("--seed must be >= 0");
  if (!go.system.empty() && !go.chat) throw UsageError("--system needs --chat");
  for (const std::string& stop : go.stop)
    if (stop.empty()) throw UsageError("--stop: an empty text");
  check_threads(go.threads);
}

}  // namespace

int generate_main(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err) {
  GenerateOptions go;
  ArgParser args("generate", "--model FILE.gguf|HF_DIR --prompt TEXT [options]",
                 "Text from a LLaMA-family model, printed as it comes, then the prefill and "
                 "decode speeds.");
  args.section("Model and prompt");
  args.add("--model", &go.model, "FILE|DIR", "a GGUF file or a Hugging Face directory");
  args.add("--prompt", &go.prompt, "TEXT", "the text to continue (or the user message: --chat)");
  args.add_switch("--chat", &go.chat, "wrap the prompt in the model's chat template");
  args.add("--system", &go.system, "TEXT", "the system message (--chat)");
  args.section("Decoding");
  args.add("--max-new-tokens", &go.max_new_tokens, "N", "most tokens generated");
  args.add("--temperature", &go.temperature, "T",
           "0: greedy; > 0: sampled from softmax(logits / T)");
  args.add("--top-k", &go.top_k, "K", "sample among the K most likely tokens; 0: all");
  args.add("--top-p", &go.top_p, "P", "sample among the fewest most likely tokens of mass >= P");
  args.add("--seed", &go.seed, "S", "seed of the sampling");
  args.add_list("--stop", &go.stop, "TEXT", "stop when the text appears (not printed)");
  args.add_switch("--ignore-eos", &go.ignore_eos,
                  "go on past the end-of-sequence token (speed measurements)");
  args.add("--threads", &go.threads, "N", "compute threads; 0 = all cores");
  try {
    try {
      args.parse(arguments);
      if (args.help_requested()) {
        out << args.help();
        return 0;
      }
      check_options(go, args);
      return run(go, out);
    } catch (const UsageError& e) {
      err << "generate: " << e.what() << "\n" << args.usage() << "\n";
      return 2;
    }
  } catch (const std::exception& e) {
    err << "generate: error: " << one_line(e.what()) << "\n";
    return 1;
  }
}

}  // namespace neat
