#include "nn/peft/fourierft.h"

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/sparse_idft2.h"
#include "tensor/elementwise.h"
#include "tensor/torch_randperm.h"

namespace neat {

SpectrumPositions fourier_positions(int64_t out_features, int64_t in_features,
                                    int64_t n_frequency, uint64_t random_loc_seed) {
  NEAT_CHECK(n_frequency >= 1 && n_frequency <= out_features * in_features,
             "FourierFT: n_frequency must be in [1, ", out_features * in_features, "] for a ",
             out_features, " x ", in_features, " weight, got ", n_frequency);
  std::vector<int64_t> perm = torch_randperm(out_features * in_features, random_loc_seed);
  Tensor rows({n_frequency}, DType::Int64), cols({n_frequency}, DType::Int64);
  for (int64_t k = 0; k < n_frequency; ++k) {
    rows.data<int64_t>()[k] = perm[size_t(k)] / in_features;
    cols.data<int64_t>()[k] = perm[size_t(k)] % in_features;
  }
  return spectrum_positions(rows, cols, out_features, in_features);
}

FourierFT::FourierFT(const Linear& base, const FourierOptions& options)
    : AdditiveAdapter(base), options_(options) {
  positions_ = fourier_positions(weight.size(0), weight.size(1), options.n_frequency,
                                 options.random_loc_seed);
  Generator gen(options.seed);
  fourierft_spectrum = register_parameter(
      "fourierft_spectrum", options.zero_init ? zeros({options.n_frequency}, weight.dtype())
                                              : randn({options.n_frequency}, gen, weight.dtype()));
}

const SpectrumPositions& FourierFT::positions_on_device() const {
  const Device device = fourierft_spectrum.data().device();
  if (positions_.rows.device() != device) {
    positions_.rows = positions_.rows.to(device);
    positions_.cols = positions_.cols.to(device);
    positions_.slot = positions_.slot.to(device);
    positions_.distinct_rows = positions_.distinct_rows.to(device);
  }
  return positions_;
}

Variable FourierFT::forward(const Variable& x) {
  if (merged()) return linear(x, weight, bias);
  Variable delta = sparse_idft2_real(fourierft_spectrum, positions_on_device()) * options_.scaling;
  return linear(x, weight, bias) + linear(x, delta, Variable());
}

Tensor FourierFT::delta_weight() const {
  Tensor delta = sparse_idft2_real(fourierft_spectrum.data(), positions_on_device());
  scale_(delta, options_.scaling);
  return delta;
}

}  // namespace neat
