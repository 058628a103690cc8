// The op-test harness (ggml's tests/test-backend-ops, flashlight's jacobianTestImpl): every
// differentiable op is one entry of the table in tests/test_ops.cpp, and each entry is its own
// doctest case, "op <name>". An entry lists the inputs it is checked at (odd, non-square and
// broadcasting shapes; value ranges that keep away from the op's kinks and poles, e.g. relu
// at 0 or div at 0) and an independent forward (a plain loop or composed primitives). For each
// of its cases the harness runs
//   (a) gradcheck: float64 central differences, tolerance scaled per tensor (autograd/gradcheck.h);
//   (b) the forward against the reference, in float64, to 1e-12 of the reference's magnitude;
// and the case "op table: every other device against the CPU" runs
//   (c) each entry on every other built device against the CPU in float32 (the forward and
//       every input's gradient), by normalised mean squared error (ggml's max_nmse_err);
//       skipped, with the reason, when the build has no device besides the CPU.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace neat::test {

using Op = std::function<Variable(const std::vector<Variable>&)>;
using Reference = std::function<Tensor(const std::vector<Tensor>&)>;

struct OpCase {
  std::string label;           // what varies between cases: arguments, shapes' role
  std::vector<Tensor> inputs;  // float64; int64 ones (labels, indices) are passed through
  Op op;
  Reference reference;  // the same forward computed another way, in float64
};

struct OpEntry {
  std::string name;                            // the doctest case is "op <name>"
  std::function<std::vector<OpCase>()> cases;  // built when the case runs, not at start-up
};

// The table (tests/test_ops.cpp).
const std::vector<OpEntry>& op_table();

// (a) and (b) for one case; failures name the entry, the case and the input shapes.
void check_op_case(const std::string& entry, const OpCase& c);

// (c) for one case: the op in float32 on device and on the CPU, same inputs, same output
// gradient. Returns the largest normalised mean squared error over the output and the inputs'
// gradients.
double device_nmse(const OpCase& c, Device device);
// ggml's default bound for float32 results.
constexpr double kMaxDeviceNmse = 1e-7;

// The devices other than the CPU that this build can run: each is tried with a one-element
// allocation. why_not collects, for each device that cannot, the error it gave.
std::vector<Device> other_devices(std::string* why_not);

}  // namespace neat::test
