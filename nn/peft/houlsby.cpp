#include "nn/peft/houlsby.h"

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "nn/init.h"

namespace neat {

HoulsbyAdapter::HoulsbyAdapter(const Linear& base, const HoulsbyOptions& options)
    : AdaptedLinear(base), options_(options) {
  NEAT_CHECK(options.bottleneck >= 1, "HoulsbyAdapter: bottleneck must be >= 1, got ",
             options.bottleneck);
  const int64_t out = weight.size(0), m = options.bottleneck;
  adapter_down = register_module("adapter_down", std::make_shared<Linear>(out, m, true, options.seed));
  adapter_up = register_module("adapter_up", std::make_shared<Linear>(m, out, true, options.seed + 1));
  zeros_(adapter_up->weight);
  zeros_(adapter_up->bias);
  if (weight.dtype() != adapter_down->weight.dtype()) {
    adapter_down->to(weight.dtype());
    adapter_up->to(weight.dtype());
  }
}

int64_t HoulsbyAdapter::parameter_count(int64_t out_features, const HoulsbyOptions& options) {
  return 2 * options.bottleneck * out_features + options.bottleneck + out_features;
}

Variable HoulsbyAdapter::forward(const Variable& x) {
  Variable h = linear(x, weight, bias);
  return h + adapter_up->forward(gelu(adapter_down->forward(h)));
}

}  // namespace neat
