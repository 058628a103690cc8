// The generate program (train/generate_app.h) run in-process: bad flags are a usage line and
// exit 2, a missing or damaged model is one line and exit 1, and with SmolLM2's GGUF file (when
// make deps has fetched it) greedy text streams out, a --stop text ends it, and the last line
// gives the speeds.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/skip.h"
#include "tests/train_test_util.h"
#include "train/generate_app.h"

using namespace neat;
using neat_train_test::contains;
using neat_train_test::Result;
using neat_train_test::TempDir;

namespace {

Result run_generate(std::vector<std::string> args) {
  std::ostringstream out, err;
  Result r;
  r.code = generate_main(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

size_t lines(const std::string& text) { return size_t(std::count(text.begin(), text.end(), '\n')); }

}  // namespace

TEST_CASE("generate: bad flags print the usage and exit 2") {
  const std::vector<std::string> ok = {"--model", "m.gguf", "--prompt", "hi"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = ok;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_generate(args);
  };
  const Result unknown = with({"--temprature", "1"});
  CHECK(unknown.code == 2);
  CHECK(contains(unknown.err, "--temprature"));
  CHECK(contains(unknown.err, "usage: generate"));
  CHECK(run_generate({"--prompt", "hi"}).code == 2);
  CHECK(contains(run_generate({"--model", "m.gguf"}).err, "--model and --prompt are required"));
  CHECK(contains(with({"--top-p", "0"}).err, "--top-p must be in (0, 1]"));
  CHECK(contains(with({"--top-p", "1.5"}).err, "--top-p must be in (0, 1]"));
  CHECK(contains(with({"--temperature", "-1"}).err, "--temperature must be >= 0"));
  CHECK(contains(with({"--top-k", "-2"}).err, "--top-k must be >= 0"));
  CHECK(contains(with({"--max-new-tokens", "x"}).err, "--max-new-tokens"));
  CHECK(contains(with({"--system", "be brief"}).err, "--system needs --chat"));
  CHECK(with({"--threads", "-1"}).code == 2);
  const Result help = run_generate({"--help"});
  CHECK(help.code == 0);
  CHECK(contains(help.out, "--top-p"));
}

TEST_CASE("generate: a missing or damaged model is one line and exit 1") {
  TempDir dir("generate_cli");
  const Result missing = run_generate({"--model", dir / "none.gguf", "--prompt", "hi"});
  CHECK(missing.code == 1);
  CHECK(missing.err.rfind(
            "generate: error: --model " + dir / "none.gguf" + ": no such file or directory", 0) == 0);
  CHECK(lines(missing.err) == 1);
  std::ofstream(dir / "bad.gguf") << "GGUF this is not a model";
  const Result bad = run_generate({"--model", dir / "bad.gguf", "--prompt", "hi"});
  CHECK(bad.code == 1);
  CHECK(contains(bad.err, dir / "bad.gguf"));
  CHECK(lines(bad.err) == 1);
  const Result folder = run_generate({"--model", dir.path, "--prompt", "hi"});
  CHECK(folder.code == 1);
  CHECK(contains(folder.err, dir / "config.json"));
  CHECK(lines(folder.err) == 1);
}

TEST_CASE("generate: SmolLM2's GGUF continues a prompt greedily; --stop ends the text unprinted") {
  const char* env = std::getenv("NEAT_SMOLLM2_GGUF");
  const std::string path = env != nullptr ? env : "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::ifstream(path).good()) return test::skip(path + " not found (make deps fetches it)");
  // One run (loading the model takes seconds): " Paris." is the reference's greedy start.
  const Result r = run_generate({"--model", path, "--prompt", "The capital of France is",
                                 "--max-new-tokens", "8", "--stop", "!", ".", "--threads", "1"});
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind(" Paris\nprefill: 5 tokens, ", 0) == 0);
  CHECK(contains(r.out, "tokens/s; decode: 1 tokens, "));
}
