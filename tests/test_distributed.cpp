// Data-parallel training (issue 30): the pieces in one process (shards, the grad-ready hook,
// the replica check), then `mpirun -np 2` on the built ./train_vit (and ./train_text,
// ./train_lm): the same losses and weights as one process, resume onto another number of
// ranks, and a killed rank ending the job.
#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/reduce.h"
#include "data/loader.h"
#include "tensor/random.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/gradient_reducer.h"
#include "train/replica_check.h"
#include "train/train_lm_app.h"
#include "tests/skip.h"
#include "tests/tiny_lm_run.h"
#include "tests/tiny_vit.h"
#include "tests/train_test_util.h"

using namespace neat;
using namespace neat_train_test;

TEST_CASE("distributed: shard_range splits a batch into contiguous shards in rank order") {
  CHECK(shard_range(32, 64, 0, 2) == std::pair<int64_t, int64_t>{32, 48});
  CHECK(shard_range(32, 64, 1, 2) == std::pair<int64_t, int64_t>{48, 64});
  CHECK(shard_range(0, 5, 0, 2) == std::pair<int64_t, int64_t>{0, 2});
  CHECK(shard_range(0, 5, 1, 2) == std::pair<int64_t, int64_t>{2, 5});
  CHECK(shard_range(10, 11, 0, 2) == std::pair<int64_t, int64_t>{10, 10});   // empty
  CHECK_THROWS_WITH(shard_range(0, 4, 2, 2), doctest::Contains("rank 2 of 2"));
}

TEST_CASE("distributed: the grad-ready hook sees each leaf once, after its last accumulation") {
  Generator gen(1);
  Variable w(randn({3, 3}, gen), true), b(randn({2, 3}, gen), true), x(randn({2, 3}, gen));
  std::vector<std::pair<const VariableImpl*, double>> seen;   // leaf, its grad's sum then
  {
    GradReadyScope scope([&](const std::shared_ptr<VariableImpl>& leaf) {
      seen.push_back({leaf.get(), sum(leaf->grad).item()});
    });
    // w is used twice: it is ready only once both uses have been summed.
    sum(add(matmul(matmul(x, w), w), b)).backward();
  }
  REQUIRE(seen.size() == 2);
  for (const auto& [leaf, grad_sum] : seen) {
    const Variable& v = leaf == w.impl() ? w : b;
    CHECK(grad_sum == sum(v.grad()).item());   // the final gradient
  }
  sum(mul(w, w)).backward();   // outside the scope: no hook
  CHECK(seen.size() == 2);
}

TEST_CASE("distributed: one process reduces to its own gradients; unreached ones stay empty") {
  Generator gen(2);
  Variable a(randn({4}, gen), true), unused(randn({2}, gen), true);
  GradientReducer reducer(world(), {a, unused}, /*bucket_bytes=*/8);
  CHECK(reducer.buckets() == 2);
  CHECK(reducer.bytes() == 24);
  {
    GradReadyScope watch(reducer.hook());
    sum(mul(a, a)).backward();
  }
  const std::vector<float> before = a.grad().to_vector<float>();
  reducer.finish();
  CHECK(a.grad().to_vector<float>() == before);
  CHECK_FALSE(unused.grad().defined());
}

TEST_CASE("distributed: the replica check names the ranks whose parameters differ") {
  CHECK(replica_mismatch({7, 7, 7}, 3).empty());
  const std::string message = replica_mismatch({7, 7, 9, 8}, 12);
  CHECK(doctest::String(message.c_str()) == doctest::Contains("after step 12"));
  CHECK(doctest::String(message.c_str()) == doctest::Contains("rank 2 (0000000000000009), rank 3"));
  ViTForImageClassification model(neat::test::tiny_vit_config());
  const uint64_t hash = parameter_hash(model);
  CHECK(parameter_hash(model) == hash);
  model.named_parameters().front().second.data().reshape({-1}).set({0}, 1.5);
  CHECK(parameter_hash(model) != hash);
  CHECK_NOTHROW(check_replicas(world(), model, 0));   // one process agrees with itself
}

namespace {

// Why the mpirun tests cannot run here ("" when they can).
std::string mpirun_missing() {
  if (!mpi_built()) return "this build has no MPI (make said \"MPI off\")";
  if (std::system("mpirun --version 2>/dev/null | grep -q 'Open MPI'") != 0)
    return "OpenMPI's mpirun is not installed (apt-get install openmpi-bin)";
  if (!file_exists("./train_vit")) return "./train_vit is not built in the current directory";
  return "";
}

// Bounded: a collective waits at most dist_timeout seconds, mpirun at most 60.
std::string mpirun_command(int ranks, const std::vector<std::string>& args,
                           const std::string& program = "./train_vit", int dist_timeout = 20) {
  std::string command = "NEAT_DIST_TIMEOUT=" + std::to_string(dist_timeout) +
                        " timeout 60 mpirun --allow-run-as-root --oversubscribe --bind-to none -np " +
                        std::to_string(ranks) + " " + program;
  for (const std::string& a : args) command += " '" + a + "'";
  return command;
}

// A program under mpirun: exit code and both outputs.
Result mpirun(int ranks, const std::vector<std::string>& args, const TempDir& dir,
              const std::string& program = "./train_vit") {
  const std::string out = dir / "mpirun.out", err = dir / "mpirun.err";
  const int status =
      std::system((mpirun_command(ranks, args, program) + " >" + out + " 2>" + err).c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

std::vector<double> step_losses(const std::string& run) {
  std::vector<double> losses;
  for (const StepRecord& s : read_checkpoint_state(run + "/checkpoint.safetensors").history.steps)
    losses.push_back(s.loss);
  return losses;
}

// The largest |a - b| over the adapters' tensors, relative to the largest |b| of each tensor.
double adapter_difference(const std::string& a, const std::string& b) {
  const SafetensorsFile fa = read_safetensors(a + "/adapter.safetensors");
  const SafetensorsFile fb = read_safetensors(b + "/adapter.safetensors");
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  double worst = 0;
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    const std::vector<float> x = fa.tensors[i].second.to_vector<float>();
    const std::vector<float> y = fb.get(fa.tensors[i].first).to_vector<float>();
    double diff = 0, scale = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      diff = std::max(diff, double(std::fabs(x[k] - y[k])));
      scale = std::max(scale, double(std::fabs(y[k])));
    }
    worst = std::max(worst, scale > 0 ? diff / scale : diff);
  }
  return worst;
}

}  // namespace

TEST_CASE("mpirun -np 2 train_vit: the losses and weights of one process, to the bit") {
  if (const std::string why = mpirun_missing(); !why.empty()) return neat::test::skip(why);
  TempDir dir("mpi2");
  const std::vector<std::string> run = {"--method", "lora", "--max-steps", "4", "--save-every", "1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = run;
    args.insert(args.end(), extra.begin(), extra.end());
    return tiny(args);
  };
  const Result two = mpirun(2, with({"--out", dir / "two"}), dir);
  REQUIRE_MESSAGE(two.code == 0, two.err);
  CHECK(contains(two.out, "-> " + dir / "two"));   // rank 0's result line only
  CHECK(std::count(two.out.begin(), two.out.end(), '\n') == 1);
  // One process over the same examples in the same grouping: batches of 16, 2 per step.
  REQUIRE(train(with({"--batch-size", "16", "--grad-accum", "2", "--out", dir / "halves"})).code == 0);
  CHECK(step_losses(dir / "two") == step_losses(dir / "halves"));
  CHECK(adapter_difference(dir / "two", dir / "halves") == 0);
  // One process with the global batch of 32: equal within float32 summation order.
  REQUIRE(train(with({"--out", dir / "one"})).code == 0);
  const std::vector<double> a = step_losses(dir / "two"), b = step_losses(dir / "one");
  REQUIRE(a.size() == 4);
  for (size_t i = 0; i < a.size(); ++i) CHECK(std::fabs(a[i] - b[i]) <= 1e-5 * std::fabs(b[i]));
  CHECK(adapter_difference(dir / "two", dir / "one") <= 1e-4);
}

TEST_CASE("mpirun -np 2 train_text: the losses and weights of one process, to the bit") {
  if (const std::string why = mpirun_missing(); !why.empty()) return neat::test::skip(why);
  if (!file_exists("./train_text")) return neat::test::skip("./train_text is not built");
  TempDir dir("mpi_text");
  write_tiny_text_inputs(dir.path);
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"--task", "wordnet-nouns", "--data-dir", dir / "wordnet",
                                     "--weights", dir / "model", "--method", "lora", "--max-len",
                                     "16", "--max-steps", "3", "--threads", "1", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const Result two = mpirun(2, with({"--batch-size", "8", "--out", dir / "two"}), dir, "./train_text");
  REQUIRE_MESSAGE(two.code == 0, two.err);
  std::ostringstream out, err;
  REQUIRE(train_text_main(with({"--batch-size", "4", "--grad-accum", "2", "--out", dir / "halves"}),
                          out, err) == 0);
  CHECK(step_losses(dir / "two") == step_losses(dir / "halves"));
  CHECK(adapter_difference(dir / "two", dir / "halves") == 0);
}

TEST_CASE("mpirun -np 2 train_lm: the losses and weights of one process, to the bit") {
  if (const std::string why = mpirun_missing(); !why.empty()) return neat::test::skip(why);
  if (!file_exists("./train_lm")) return neat::test::skip("./train_lm is not built");
  TempDir dir("mpi_lm");
  write_tiny_lm_inputs(dir.path);
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"--task", "boolq", "--weights", dir / "lm-model", "--train-data",
                                     dir / "lm/train.json", "--test-data", dir / "lm/test.json",
                                     "--method", "lora", "--max-steps", "3", "--max-new-tokens",
                                     "4", "--threads", "1", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const Result two = mpirun(2, with({"--batch-size", "8", "--out", dir / "two"}), dir, "./train_lm");
  REQUIRE_MESSAGE(two.code == 0, two.err);
  std::ostringstream out, err;
  REQUIRE(train_lm_main(with({"--batch-size", "4", "--grad-accum", "2", "--out", dir / "halves"}),
                        out, err) == 0);
  CHECK(step_losses(dir / "two") == step_losses(dir / "halves"));
  CHECK(adapter_difference(dir / "two", dir / "halves") == 0);
}

TEST_CASE("mpirun -np 2 train_vit: a run resumes on one process, and one rank's error ends both") {
  if (const std::string why = mpirun_missing(); !why.empty()) return neat::test::skip(why);
  TempDir dir("mpi_resume");
  const Result two = mpirun(2, tiny({"--method", "lora", "--max-steps", "2", "--out", dir / "run"}), dir);
  REQUIRE_MESSAGE(two.code == 0, two.err);
  const Result one = train({"--resume", dir / "run", "--max-steps", "4", "--quiet"});
  REQUIRE_MESSAGE(one.code == 0, one.err);
  CHECK(read_checkpoint_state(dir / "run/checkpoint.safetensors").step == 4);
  REQUIRE(train(tiny({"--method", "lora", "--max-steps", "4", "--out", dir / "straight"})).code == 0);
  CHECK(adapter_difference(dir / "run", dir / "straight") <= 1e-4);
  // And back onto 2 ranks.
  const Result again = mpirun(2, {"--resume", dir / "run", "--max-steps", "5", "--quiet"}, dir);
  REQUIRE_MESSAGE(again.code == 0, again.err);
  CHECK(read_checkpoint_state(dir / "run/checkpoint.safetensors").step == 5);

  // A batch too small to split fails on every rank before training.
  const Result small = mpirun(3, tiny({"--batch-size", "2", "--max-steps", "1", "--out", dir / "s"}), dir);
  CHECK(small.code != 0);
  CHECK(contains(small.err, "a batch of 2 cannot be split between 3 ranks"));
  CHECK(contains(small.err, "ending every rank of the job"));
}

namespace {

// The pid of the process mpirun started as rank `rank` with NEAT_TEST_RUN=marker in its
// environment.
pid_t rank_pid(const std::string& marker, int rank) {
  const std::string want_rank = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank) + '\0';
  const std::string want_marker = "NEAT_TEST_RUN=" + marker + '\0';
  DIR* proc = opendir("/proc");
  pid_t found = 0;
  for (dirent* e; proc != nullptr && found == 0 && (e = readdir(proc)) != nullptr;) {
    const pid_t pid = pid_t(std::atol(e->d_name));
    if (pid <= 0) continue;
    std::ifstream environ("/proc/" + std::to_string(pid) + "/environ");
    const std::string env((std::istreambuf_iterator<char>(environ)), std::istreambuf_iterator<char>());
    if (env.find(want_rank) != std::string::npos && env.find(want_marker) != std::string::npos)
      found = pid;
  }
  if (proc != nullptr) closedir(proc);
  return found;
}

}  // namespace

namespace {

// A 2-rank ./train_vit run of 100 epochs in dir/run, started in the background, once its
// checkpoint reached step 2: the shell's pid and rank 1's.
std::pair<pid_t, pid_t> start_long_run(const TempDir& dir, int dist_timeout) {
  const std::string command =
      "NEAT_TEST_RUN=" + dir.path + " " +
      mpirun_command(2, tiny({"--method", "lora", "--epochs", "100", "--save-every", "1", "--out",
                              dir / "run"}), "./train_vit", dist_timeout) +
      " >" + dir / "out" + " 2>" + dir / "err";
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  REQUIRE(child > 0);
  const std::string checkpoint = dir / "run/checkpoint.safetensors";
  const auto start = std::chrono::steady_clock::now();
  int64_t step = 0;
  while (step < 2 && std::chrono::steady_clock::now() - start < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    try {
      if (file_exists(checkpoint)) step = read_checkpoint_state(checkpoint).step;
    } catch (const std::exception&) {
    }
  }
  const pid_t rank1 = rank_pid(dir.path, 1);
  CHECK(step >= 2);
  CHECK(rank1 > 0);
  return {child, rank1};
}

// Sends rank 1 the signal; the job's exit status and the seconds it took to end after it.
std::pair<int, double> signal_rank1(std::pair<pid_t, pid_t> run, int signal) {
  const auto sent = std::chrono::steady_clock::now();
  if (run.second > 0) ::kill(run.second, signal);
  int status = 0;
  ::waitpid(run.first, &status, 0);
  return {status, std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count()};
}

}  // namespace

TEST_CASE("mpirun -np 2 train_vit: a rank killed mid-run ends the job; the checkpoint is intact") {
  if (const std::string why = mpirun_missing(); !why.empty()) return neat::test::skip(why);
  TempDir dir("mpi_kill");
  const auto [status, seconds] = signal_rank1(start_long_run(dir, 20), SIGKILL);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK(seconds < 10);
  CHECK(contains(read_file(dir / "err"), "signal 9"));
  CHECK(read_checkpoint_state(dir / "run/checkpoint.safetensors").step >= 2);
}

TEST_CASE("mpirun -np 2 train_vit: a rank that hangs ends the job after NEAT_DIST_TIMEOUT") {
  if (const std::string why = mpirun_missing(); !why.empty()) return neat::test::skip(why);
  TempDir dir("mpi_hang");
  // SIGSTOP: rank 1 neither dies nor answers; rank 0 waits 3 s in a collective, then aborts.
  const auto [status, seconds] = signal_rank1(start_long_run(dir, 3), SIGSTOP);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK(seconds < 10);
  CHECK(contains(read_file(dir / "err"), "rank 0: waited more than 3 s (NEAT_DIST_TIMEOUT)"));
  CHECK(read_checkpoint_state(dir / "run/checkpoint.safetensors").step >= 2);
}
