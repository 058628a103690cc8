#include "nn/init.h"

#include <functional>

#include "tensor/dispatch.h"

namespace neat {

// Every initialiser draws in float64 and stores into the parameter's dtype, so a float32 and
// a float64 model built from the same seed hold the same values (up to rounding). Each draw is
// rounded as it is stored (convert_value, what copy_from of a float64 tensor does), straight
// into a CPU parameter: a float64 copy of a whole weight, twice its bytes, left a freed block
// that the next parameter filled only in part, and freed memory stays in the process
// (tensor/cpu/tensor.h), so building ViT-B/16 cut to one layer peaked at 3x its parameters'
// bytes (91 MB for 31 MB).
static void fill_with(const Variable& p, const std::function<double()>& sample) {
  NoGradGuard no_grad;
  const Tensor& t = p.data();
  check_float(t, "init");
  const Tensor host = t.device() == Device::CPU ? t : empty(t.shape(), t.dtype());
  dispatch_storage_dtypes(host, "init", [&](auto, auto zero) {
    using T = decltype(zero);
    T* v = host.data<T>();
    for (int64_t i = 0; i < host.numel(); ++i) v[i] = convert_value<T>(sample());
  });
  if (!host.is_same(t)) t.copy_from(host);
}

namespace {
// N(0, 1) by Box-Muller keeping both normals of each pair (Generator::normal drops one):
// initialising a large model is dominated by these log / cos calls.
struct PairedNormal {
  Generator& gen;
  double spare = 0;
  bool has_spare = false;
  double operator()() {
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    double u1 = gen.uniform(), u2 = gen.uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    double r = std::sqrt(-2.0 * std::log(u1)), theta = 6.283185307179586 * u2;
    spare = r * std::sin(theta);
    has_spare = true;
    return r * std::cos(theta);
  }
};
}  // namespace

void trunc_normal_(const Variable& p, double std, Generator& gen, double mean, double a, double b) {
  NEAT_CHECK(a < b && std > 0, "trunc_normal_: need a < b and std > 0, got a ", a, ", b ", b,
             ", std ", std);
  PairedNormal normal{gen};
  fill_with(p, [&] {
    while (true) {  // rejection sampling: exact, and [a, b] holds nearly all mass for small std
      double x = mean + std * normal();
      if (x >= a && x <= b) return x;
    }
  });
}

void normal_(const Variable& p, double std, Generator& gen, double mean) {
  NEAT_CHECK(std > 0, "normal_: need std > 0, got ", std);
  PairedNormal normal{gen};
  fill_with(p, [&] { return mean + std * normal(); });
}

int64_t fan_in(const Shape& shape) {
  NEAT_CHECK(shape.size() >= 2, "fan_in: needs a weight of at least 2 dims, got ",
             shape_str(shape));
  int64_t receptive = 1;
  for (size_t d = 2; d < shape.size(); ++d) receptive *= shape[d];
  return shape[1] * receptive;
}

void kaiming_uniform_(const Variable& p, double a, Generator& gen) {
  double gain = std::sqrt(2.0 / (1.0 + a * a));
  double bound = gain * std::sqrt(3.0 / double(fan_in(p.shape())));
  uniform_(p, -bound, bound, gen);
}

void uniform_(const Variable& p, double low, double high, Generator& gen) {
  fill_with(p, [&] { return gen.uniform(low, high); });
}

void zeros_(const Variable& p) {
  NoGradGuard no_grad;
  p.data().fill_(0.0);
}

void ones_(const Variable& p) {
  NoGradGuard no_grad;
  p.data().fill_(1.0);
}

}  // namespace neat
