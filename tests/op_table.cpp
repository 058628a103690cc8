// The op-test harness (tests/op_table.h): the checks run on each case, the device comparison,
// the registration of one doctest case per table entry, and the cases that run the whole table
// (unique names, every other device against the CPU).
#include "tests/op_table.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <set>
#include <stdexcept>

#include "autograd/elementwise.h"
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

namespace {

// The case's inputs rounded to bf16 (back in float64); int64 ones as they are.
std::vector<Tensor> rounded_to_bf16(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> rounded;
  for (const Tensor& t : inputs)
    rounded.push_back(is_floating(t.dtype()) ? t.to(DType::BFloat16).to(DType::Float64) : t);
  return rounded;
}

// OpCase::reduction, or where it is 0 the largest ratio of the output's and a floating input's
// element counts.
double reduction_length(const OpCase& c, const Tensor& output) {
  if (c.reduction > 0) return double(c.reduction);
  double L = 1;
  for (const Tensor& t : c.inputs)
    if (is_floating(t.dtype()) && t.numel() > 0 && output.numel() > 0) {
      const double ratio = double(output.numel()) / double(t.numel());
      L = std::max({L, ratio, 1 / ratio});
    }
  return L;
}

// The op at vars and its backward from the output gradient make_dy(output): the output and the
// gradients of the vars that require one, copied to the CPU.
struct OpRun {
  Tensor output;
  std::vector<Tensor> grads;
};
OpRun run_op(const OpCase& c, const std::vector<Variable>& vars,
             const std::function<Tensor(const Variable&)>& make_dy) {
  Variable y = c.op(vars);
  y.backward(make_dy(y));
  OpRun run{y.data().to(Device::CPU), {}};
  for (const Variable& v : vars)
    if (v.requires_grad()) run.grads.push_back(v.grad().to(Device::CPU));
  return run;
}

// A random output gradient of y's shape, dtype and device, the same for every run of a case.
Tensor random_dy(const Variable& y) {
  Generator gen(7);
  return randn(y.shape(), gen, y.dtype()).to(y.device());
}

}  // namespace

Bf16Check bf16_check(const OpCase& c) {
  const std::vector<Tensor> rounded = rounded_to_bf16(c.inputs);
  Bf16Check r;
  OpRun got;
  Tensor dy;  // bf16, kept for the float64 run
  try {
    got = run_op(c, leaves(rounded, DType::BFloat16, Device::CPU), [&](const Variable& y) {
      dy = random_dy(y);
      return dy;
    });
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find("no bfloat16 kernel") == std::string::npos) throw;
    r.report = e.what();
    return r;
  }
  r.ran = true;
  const OpRun want = run_op(c, leaves(rounded, DType::Float64, Device::CPU),
                            [&](const Variable&) { return dy.to(DType::Float64); });
  const double L = reduction_length(c, want.output);
  const double rtol = kBf16Slack * kBf16UnitRoundoff * (1 + std::sqrt(L));
  auto measure = [&](const std::string& label, const Tensor& t, const Tensor& t64) {
    const TensorComparison m = compare_tensor(t, t64, rtol, 0.0);
    double ratio = m.max_error == 0 ? 0 : m.max_error / (rtol * m.scale);  // inf for a zero t64
    // A bf16 op writes bf16, except a loss, which is float32 (as under PyTorch's autocast).
    const bool bf16_or_loss = t.dtype() == DType::BFloat16 || t.dtype() == DType::Float32;
    if (!bf16_or_loss || t.shape() != t64.shape() || std::isnan(m.max_error))
      ratio = INFINITY;
    r.worst = std::max(r.worst, ratio);
    r.report += label + " " + dtype_name(t.dtype()) + " " + shape_str(t.shape()) +
                ": max error " + std::to_string(m.max_error) + ", bound " +
                std::to_string(rtol * m.scale) + " = " + std::to_string(rtol) + " x " +
                std::to_string(m.scale) + " (L " + std::to_string(int64_t(L)) + ")\n";
  };
  measure("forward", got.output, c.reference(rounded));
  if (got.grads.size() != want.grads.size()) r.worst = INFINITY;
  for (size_t k = 0; k < got.grads.size() && k < want.grads.size(); ++k)
    measure("gradient " + std::to_string(k), got.grads[k], want.grads[k]);
  return r;
}

double device_nmse(const OpCase& c, Device device, DType dtype) {
  // The same output gradient on both devices, so the inputs' gradients are comparable.
  const OpRun want = run_op(c, leaves(c.inputs, dtype, Device::CPU), random_dy);
  const OpRun got = run_op(c, leaves(c.inputs, dtype, device), random_dy);
  double worst = normalized_mse(got.output, want.output);
  for (size_t k = 0; k < want.grads.size(); ++k)
    worst = std::max(worst, normalized_mse(got.grads[k], want.grads[k]));
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
  for (const OpEntry& entry : op_table()) {
    if ("op " + entry.name != name) continue;
    for (const OpCase& c : entry.cases()) {
      check_op_case(entry.name, c);
      const Bf16Check r = bf16_check(c);
      INFO("op ", entry.name, " [", c.label, "] in bf16, inputs ", shapes_of(c.inputs));
      CHECK_MESSAGE(r.ran, "no bf16 kernel (", r.report, "): every entry runs in bf16");
      CHECK_MESSAGE(r.worst <= 1, "error over (d)'s bound (tests/op_table.h):\n", r.report);
    }
  }
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

TEST_CASE("op table: bf16 on every other device against bf16 on the CPU") {
  std::string why_not;
  const std::vector<Device> devices = other_devices(&why_not);
  if (devices.empty()) return skip("no device besides the CPU in this build (" + why_not + ")");
  for (Device d : devices)
    for (const OpEntry& entry : op_table()) {
      for (const OpCase& c : entry.cases()) {
        INFO(device_name(d), " op ", entry.name, " [", c.label, "] in bf16");
        CHECK(device_nmse(c, d, DType::BFloat16) < kMaxDeviceNmseBf16);
      }
    }
}

TEST_CASE("op table: the device comparison runs (the CPU against itself)") {
  // The code path of the cases above, on the one device every build has: identical results.
  for (const char* name : {"mul", "softmax", "matmul", "cross_entropy"})
    for (const OpEntry& entry : op_table())
      if (entry.name == name)
        for (const OpCase& c : entry.cases()) {
          INFO("op ", entry.name, " [", c.label, "]");
          CHECK(device_nmse(c, Device::CPU) == 0.0);
          CHECK(device_nmse(c, Device::CPU, DType::BFloat16) == 0.0);
        }
}

TEST_CASE("op table: the bf16 check fails a wrong bf16 result and passes a right one") {
  // A hand-made case whose op is x * 1 in float64 but x * (1 + 2^(k-7)) in bf16 (at x = 1: off
  // by 2^k bf16 ulps, a relative error of 2^(k-7)), against (d)'s bound kBf16Slack u (1 + 1) =
  // 1/32 here: within it at k = 0, outside at k = 4.
  for (int k : {0, 4}) {
    const OpCase c{"x * 1, off by 2^k ulps in bf16",
                   {full({3}, 1.0, DType::Float64)},
                   [k](const std::vector<Variable>& v) {
                     const bool bf16 = v[0].dtype() == DType::BFloat16;
                     return mul_scalar(v[0], 1 + (bf16 ? std::ldexp(1.0, k - 7) : 0.0));
                   },
                   [](const std::vector<Tensor>& in) { return in[0].clone(); }};
    const Bf16Check r = bf16_check(c);
    INFO("k = ", k, ": ", r.report);
    CHECK(r.ran);
    CHECK((r.worst <= 1) == (k == 0));
  }
}
