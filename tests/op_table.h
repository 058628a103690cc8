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
//       skipped, with the reason, when the build has no device besides the CPU;
//   (d) each entry in bfloat16 on the CPU ("op <name>", after (a) and (b)): the inputs rounded
//       to bf16, the op and its backward run in bf16 (a loss's output is float32, as under
//       PyTorch's autocast) with a random output gradient dy of the output's dtype, the
//       output against the float64 reference at the rounded inputs and each input's gradient
//       against float64 autograd at the rounded inputs with the same dy (widened). Each tensor
//       t (the output, each gradient) passes when
//         max |t_bf16 - t_64| <= kBf16Slack u (1 + sqrt(L)) max |t_64|,     u = 2^-8,
//       u bf16's unit roundoff (half an ulp, relative), L the case's reduction length (the most
//       terms a sum inside the op or its backward adds into one element: OpCase::reduction).
//       A pointwise result is rounded once from float32 math (|error| <= u |t|); its gradient
//       multiplies bf16 values rounded before (a derivative read from the rounded output y, dy
//       itself) and rounds again: a few u. A sum of L such terms (float32 accumulation) errs by
//       about u sqrt(L) times a term, and with random signs the sum itself is about sqrt(L)
//       terms, so relative to the tensor's magnitude the error stays a few u; 1 + sqrt(L)
//       covers sums that cancel below that. Every entry must run in bf16: one whose op says
//       "no bfloat16 kernel" fails;
//   (e) with (c): each entry in bf16 on every other device against bf16 on the CPU, by
//       normalised mean squared error within kMaxDeviceNmseBf16.
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
  // (d)'s L: the most terms a sum in the op or its backward adds into one element. 0: derived
  // from the shapes, the largest ratio between the output's element count and a floating
  // input's (a reduction's length, or how often a broadcast input is repeated: its gradient's
  // sum); set it where a sum does not show in the counts (softmax, matmul's K).
  int64_t reduction = 0;
};

struct OpEntry {
  std::string name;                            // the doctest case is "op <name>"
  std::function<std::vector<OpCase>()> cases;  // built when the case runs, not at start-up
};

// The table (tests/test_ops.cpp).
const std::vector<OpEntry>& op_table();

// (a) and (b) for one case; failures name the entry, the case and the input shapes.
void check_op_case(const std::string& entry, const OpCase& c);

// (d) for one case, measured (the "op <name>" cases check worst <= 1).
struct Bf16Check {
  bool ran = false;    // false: no bf16 kernel yet (no_half_kernel's error, in report)
  double worst = 0;    // the largest max error / bound over the output and the gradients
  std::string report;  // a line per tensor: its max error and bound
};
Bf16Check bf16_check(const OpCase& c);
// bf16's unit roundoff and (d)'s factor on it. Measured: the entries with bf16 kernels reach at
// most 0.29 of the bound (div's gradient of a broadcast divisor), most 0.05-0.15.
constexpr double kBf16UnitRoundoff = 1.0 / 256;
constexpr double kBf16Slack = 4;

// (c) and (e) for one case: the op in dtype (float32, bfloat16) on device and on the CPU, same
// inputs (rounded to dtype), same output gradient. Returns the largest normalised mean squared
// error over the output and the inputs' gradients.
double device_nmse(const OpCase& c, Device device, DType dtype = DType::Float32);
// ggml's default bound for float32 results.
constexpr double kMaxDeviceNmse = 1e-7;
// For bf16 results: every element off by two bf16 ulps (4 u relative) at most.
constexpr double kMaxDeviceNmseBf16 = 16 * kBf16UnitRoundoff * kBf16UnitRoundoff;

// The devices other than the CPU that this build can run: each is tried with a one-element
// allocation. why_not collects, for each device that cannot, the error it gave.
std::vector<Device> other_devices(std::string* why_not);

}  // namespace neat::test
