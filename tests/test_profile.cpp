// The step profiler (tensor/profile.h): it attributes forward and backward time to the ops that
// ran, counts allocations, records nothing when off or outside a step, and train_vit --profile N
// prints its report for N steps. No figure is checked against a time: only what was recorded.
#include <doctest/doctest.h>

#include <string>

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/reduce.h"
#include "tensor/profile.h"
#include "tests/train_test_util.h"

using namespace neat;

namespace {

// One "step": loss = sum(relu(x w)), backward.
void step(const Variable& x, const Variable& w) {
  profile_step_begin();
  sum(relu(matmul(x, w))).backward();
  profile_step_end();
}

// The report's row for `op` in the "op" table (the line starting with two spaces and the name).
std::string row_of(const std::string& report, const std::string& op) {
  const size_t at = report.find("\n  " + op + " ");
  if (at == std::string::npos) return "";
  return report.substr(at + 1, report.find('\n', at + 1) - at - 1);
}

}  // namespace

TEST_CASE("profile: each op's forward and backward calls per step, categories, allocations") {
  Generator gen(5);
  Variable x(randn({64, 32}, gen)), w(randn({32, 16}, gen), /*requires_grad=*/true);
  profile_start();
  CHECK(profile_enabled());
  for (int i = 0; i < 3; ++i) step(x, w);
  sum(relu(matmul(x, w))).backward();   // outside a step: not recorded
  profile_stop();
  CHECK_FALSE(profile_enabled());
  const std::string report = profile_report();
  CAPTURE(report);
  CHECK(report.find("profile: 3 steps") == 0);
  // matmul: 1 forward and 1 backward call a step, in the GEMM category
  const std::string matmul_row = row_of(report, "matmul");
  CAPTURE(matmul_row);
  CHECK(matmul_row.find("GEMM") != std::string::npos);
  CHECK(matmul_row.find(" 1 ") != std::string::npos);
  CHECK(row_of(report, "relu").find("elementwise") != std::string::npos);
  CHECK(row_of(report, "sum").find("elementwise") != std::string::npos);
  for (const char* part : {"category", "GEMM", "allocation", "kernel", "allocations ("})
    CHECK(report.find(part) != std::string::npos);
  CHECK(row_of(report, "adamw_step").empty());   // no optimizer ran
}

TEST_CASE("profile: off, nothing is recorded") {
  profile_start();
  profile_stop();
  Generator gen(6);
  Variable x(randn({8, 4}, gen)), w(randn({4, 2}, gen), true);
  step(x, w);
  CHECK(profile_report() == "profile: no step recorded\n");
}

TEST_CASE("train_vit --profile N prints the profile of N steps, even with --quiet") {
  using namespace neat_train_test;
  TempDir dir("profile");
  const Result r = train(tiny({"--epochs", "1", "--max-steps", "4", "--profile", "2", "--method",
                               "lora", "--out", dir / "run"}));
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(contains(r.err, "profile: 2 steps"));
  CHECK(contains(r.err, "lora_linear"));
  CHECK(contains(r.err, "adamw_step"));
  CHECK_FALSE(profile_enabled());
  const Result bad = train(tiny({"--profile", "-1", "--out", dir / "bad"}));
  CHECK(bad.code == 2);
  CHECK(contains(bad.err, "--profile"));
}
