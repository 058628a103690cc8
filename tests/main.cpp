// The test runner: doctest, plus a listener that counts test cases so the very last line is
// "N passed, M failed, K skipped" (what CI and people read); a test case that called
// neat::test::skip (tests/skip.h) counts as skipped, never as passed. doctest flags work as
// usual, e.g.
//   build/run_tests --list-test-cases
//   build/run_tests -tc="op layer_norm"
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "tests/skip.h"

namespace {

int cases_passed = 0;
int cases_failed = 0;
int cases_skipped = 0;
std::string running_case;       // the test case in progress
bool running_case_skipped = false;

struct CountingListener : doctest::IReporter {
  explicit CountingListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData& data) override {
    running_case = data.m_name;
    running_case_skipped = false;
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
    if (!stats.testCaseSuccess) ++cases_failed;
    else if (running_case_skipped) ++cases_skipped;
    else ++cases_passed;
  }
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("counting", 1, CountingListener);

namespace neat::test {

void skip(const std::string& reason) {
  running_case_skipped = true;
  std::fflush(stderr);
  std::printf("skipped: %s: %s\n", running_case.c_str(), reason.c_str());
  std::fflush(stdout);
}

}  // namespace neat::test

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int status = context.run();
  if (context.shouldExit()) return status;
  std::fflush(stdout);
  std::printf("%d passed, %d failed, %d skipped\n", cases_passed, cases_failed, cases_skipped);
  return status != 0 || cases_failed != 0 ? 1 : 0;
}
