// The op-test harness (tests/op_table.h): the checks run on each case, the device comparison,
// the registration of one doctest case per table entry, and the cases that run the whole table
// (unique names, every other device against the CPU).
#include "tests/op_table.h"

#include <doctest/doctest.h>

#include <set>
#include <stdexcept>

#include "autograd/gradcheck.h"
#include "tests/skip.h"
#include "tests/tensor_check.h"

namespace neat::test {

namespace {

std::string shapes_of(const std::vector<Tensor>& inputs) {
  std::string s;
  for (const Tensor& t : inputs) s += (s.empty() ? "" : ", ") + shape_str(t.shape());
  return s;
}

std::vector<Variable> leaves(const std::vector<Tensor>& inputs, DType dtype, Device device) {
  std::vector<Variable> vars;
  for (const Tensor& t : inputs) {
    const bool floating = is_floating(t.dtype());
    vars.emplace_back((floating ? t.to(dtype) : t).to(device), floating);
  }
  return vars;
}

}  // namespace

void check_op_case(const std::string& entry, const OpCase& c) {
  INFO("op ", entry, " [", c.label, "] inputs ", shapes_of(c.inputs));
  GradcheckResult r = gradcheck(c.op, c.inputs);
  CHECK_MESSAGE(r.ok, r.report);
  std::vector<Variable> vars = leaves(c.inputs, DType::Float64, Device::CPU);
  const Tensor got = c.op(vars).data();
  check_tensor("forward", got, c.reference(c.inputs), 1e-12, 0.0);
}

double device_nmse(const OpCase& c, Device device) {
  // The same output gradient on both devices, so the inputs' gradients are comparable.
  auto run = [&](Device d, Tensor* output, std::vector<Tensor>* grads) {
    std::vector<Variable> vars = leaves(c.inputs, DType::Float32, d);
    Variable y = c.op(vars);
    Generator gen(7);
    y.backward(randn(y.shape(), gen, DType::Float32).to(d));
    *output = y.data().to(Device::CPU);
    for (const Variable& v : vars)
      if (v.requires_grad()) grads->push_back(v.grad().to(Device::CPU));
  };
  Tensor want, got;
  std::vector<Tensor> want_grads, got_grads;
  run(Device::CPU, &want, &want_grads);
  run(device, &got, &got_grads);
  double worst = normalized_mse(got, want);
  for (size_t k = 0; k < want_grads.size(); ++k)
    worst = std::max(worst, normalized_mse(got_grads[k], want_grads[k]));
  return worst;
}

std::vector<Device> other_devices(std::string* why_not) {
  std::vector<Device> usable;
  for (Device d : {Device::CUDA}) {
    try {
      Tensor probe({1}, DType::Float32, d);
      usable.push_back(d);
    } catch (const std::runtime_error& e) {
      *why_not += std::string(why_not->empty() ? "" : "; ") + device_name(d) + ": " + e.what();
    }
  }
  return usable;
}

namespace {

// Every entry is its own doctest case, so `run_tests --list-test-cases` lists the ops and
// `run_tests -tc="op softmax"` runs one. All cases share this function, which finds its entry
// by the name of the case doctest is running.
void run_entry_of_current_case() {
  const std::string name = doctest::getContextOptions()->currentTest->m_name;
  for (const OpEntry& entry : op_table())
    if ("op " + entry.name == name)
      for (const OpCase& c : entry.cases()) check_op_case(entry.name, c);
}

// Registers the cases at start-up with the call a TEST_CASE expands to (doctest's regTest).
[[maybe_unused]] const int registered = [] {
  static std::vector<std::string> names;  // doctest keeps the const char*
  names.reserve(op_table().size());
  for (const OpEntry& entry : op_table()) {
    names.push_back("op " + entry.name);
    doctest::detail::regTest(
        doctest::detail::TestCase(run_entry_of_current_case, __FILE__, __LINE__,
                                  doctest_detail_test_suite_ns::getCurrentTestSuite()) *
        names.back().c_str());
  }
  return 0;
}();

}  // namespace

}  // namespace neat::test

using namespace neat;
using namespace neat::test;

TEST_CASE("op table: entry names are unique") {
  std::set<std::string> names;
  for (const OpEntry& e : op_table())
    CHECK_MESSAGE(names.insert(e.name).second, "duplicate entry ", e.name);
}

TEST_CASE("op table: every other device against the CPU") {
  std::string why_not;
  const std::vector<Device> devices = other_devices(&why_not);
  if (devices.empty()) return skip("no device besides the CPU in this build (" + why_not + ")");
  for (Device d : devices)
    for (const OpEntry& entry : op_table())
      for (const OpCase& c : entry.cases()) {
        INFO(device_name(d), " op ", entry.name, " [", c.label, "]");
        CHECK(device_nmse(c, d) < kMaxDeviceNmse);
      }
}

TEST_CASE("op table: the device comparison runs (the CPU against itself)") {
  // The code path of the case above, on the one device every build has: identical results.
  for (const char* name : {"mul", "softmax", "matmul", "cross_entropy"})
    for (const OpEntry& entry : op_table())
      if (entry.name == name)
        for (const OpCase& c : entry.cases()) {
          INFO("op ", entry.name, " [", c.label, "]");
          CHECK(device_nmse(c, Device::CPU) == 0.0);
        }
}
