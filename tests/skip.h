// Skipping a test at run time, with a reason. doctest's `skip()` decorator is decided when the
// test is registered; a test that finds at run time that it cannot run (no GPU, a data set or a
// program that is not there) calls neat::test::skip instead and returns:
//
//   if (!std::filesystem::exists(path)) return skip(path + " not found (apt-get install ...)");
//
// The reason is printed at once ("skipped: <test case>: <reason>"), and the runner in
// tests/main.cpp counts the test case as skipped, not passed: its last line is
// "N passed, M failed, K skipped". A test case that skips and also failed a check counts as
// failed.
#pragma once
#include <string>

namespace neat::test {

void skip(const std::string& reason);

}  // namespace neat::test
