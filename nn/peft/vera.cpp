#include "nn/peft/vera.h"

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/shape_ops.h"
#include "tensor/elementwise.h"
#include "tensor/matmul.h"
#include "tensor/torch_generator.h"

namespace neat {

// peft's _kaiming_init: torch.empty(shape).uniform_(-bound, bound) from one
// torch.Generator().manual_seed(projection_prng_key), A first, then B; bound = sqrt(3) *
// sqrt(2) / sqrt(fan_in), fan_in = shape[1]. In float32, as peft draws them, then to dtype.
static Variable torch_kaiming_uniform(int64_t rows, int64_t cols, TorchGenerator& gen,
                                      DType dtype) {
  const double std = std::sqrt(2.0) / std::sqrt(double(cols));
  const double bound = std::sqrt(3.0) * std;
  return Variable(from_vector(gen.uniform_float(rows * cols, -bound, bound), {rows, cols}).to(dtype));
}

std::shared_ptr<VeraProjections> make_vera_projections(const VeraOptions& options,
                                                       int64_t max_in, int64_t max_out,
                                                       DType dtype) {
  NEAT_CHECK(options.rank >= 1, "Vera: rank must be >= 1, got ", options.rank);
  auto p = std::make_shared<VeraProjections>();
  TorchGenerator gen(options.projection_seed);
  p->vera_A = torch_kaiming_uniform(options.rank, max_in, gen, dtype);
  p->vera_B = torch_kaiming_uniform(max_out, options.rank, gen, dtype);
  return p;
}

Variable vera_linear(const Variable& x, const Variable& weight, const Variable& bias,
                     const Variable& A, const Variable& B, const Variable& lambda_d,
                     const Variable& lambda_b) {
  Variable update = linear(linear(x, A, Variable()) * lambda_d, B, Variable()) * lambda_b;
  return linear(x, weight, bias) + update;
}

Vera::Vera(const Linear& base, const VeraOptions& options,
           std::shared_ptr<VeraProjections> projections)
    : AdditiveAdapter(base), options_(options), projections_(std::move(projections)) {
  NEAT_CHECK(projections_ != nullptr, "Vera: no shared projections given");
  const Variable& a = projections_->vera_A;
  const Variable& b = projections_->vera_B;
  NEAT_CHECK(a.size(0) == options.rank && b.size(1) == options.rank, "Vera: rank ", options.rank,
             " but the shared vera_A is ", shape_str(a.shape()), " and vera_B ",
             shape_str(b.shape()));
  NEAT_CHECK(weight.size(1) <= a.size(1) && weight.size(0) <= b.size(0), "Vera: the weight ",
             shape_str(weight.shape()), " does not fit the shared vera_A ", shape_str(a.shape()),
             " and vera_B ", shape_str(b.shape()));
  NEAT_CHECK(a.dtype() == weight.dtype(), "Vera: shared projections are ",
             dtype_name(a.dtype()), " but the weight is ", dtype_name(weight.dtype()));
  vera_lambda_d = register_parameter("vera_lambda_d",
                                     full({options.rank}, options.d_initial, weight.dtype()));
  vera_lambda_b = register_parameter("vera_lambda_b", zeros({weight.size(0)}, weight.dtype()));
}

int64_t Vera::parameter_count(int64_t out_features, const VeraOptions& options) {
  return options.rank + out_features;
}

namespace {

// The projections are shared by every VeRA layer and registered in none, so Module::to does
// not move them: they follow the layers' device when first used there (moved once for all).
const Variable& on_device(Variable& shared, Device device) {
  if (shared.data().device() != device) shared = Variable(shared.data().to(device));
  return shared;
}

}  // namespace

Variable Vera::sliced_A() const {
  return narrow(on_device(projections_->vera_A, weight.data().device()), 1, 0, weight.size(1));
}
Variable Vera::sliced_B() const {
  return narrow(on_device(projections_->vera_B, weight.data().device()), 0, 0, weight.size(0));
}

Variable Vera::forward(const Variable& x) {
  if (merged()) return linear(x, weight, bias);
  return vera_linear(x, weight, bias, sliced_A(), sliced_B(), vera_lambda_d, vera_lambda_b);
}

Tensor Vera::delta_weight() const {
  NoGradGuard no_grad;
  Tensor scaled_b = mul(mul(sliced_B().data(), vera_lambda_d.data()),
                        vera_lambda_b.data().reshape({-1, 1}));   // diag(b) B diag(d)
  return matmul(scaled_b, sliced_A().data());
}

}  // namespace neat
