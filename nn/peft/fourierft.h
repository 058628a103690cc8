// FourierFT (Gao et al. 2024): the weight update is the real inverse 2-D DFT of a sparse
// spectrum with n trainable coefficients at fixed random positions, as Hugging Face peft's
// fourierft.Linear:
//
//   positions = torch.randperm(OUT * IN, seeded with random_loc_seed)[:n]  -> (p // IN, p % IN)
//   Delta W   = scaling * Re(ifft2(dense spectrum))      [OUT, IN]   (autograd/sparse_idft2.h)
//   y         = x W0^T + b + x Delta W^T
//
//   FourierOptions opt;  opt.n_frequency = 3000;  opt.scaling = 300;   // the paper's ViT setting
//   FourierFT layer(base, opt);   // fourierft_spectrum [3000]
//
// The positions are drawn with torch's own randperm stream (tensor/torch_randperm.h), so a
// layer here and one in peft with the same random_loc_seed use the same positions (peft does
// not store them in its files). Like peft's default (init_weights=False) the spectrum starts
// N(0, 1), so the layer does not start as the pre-trained one; zero_init starts it at zero.
// docs/fourierft.md: the cost of Delta W and why it is not a dense DFT matrix.
#pragma once
#include "nn/peft/adapted_linear.h"
#include "tensor/sparse_idft2.h"

namespace neat {

struct FourierOptions {
  int64_t n_frequency = 1000;     // n (peft's default)
  double scaling = 150.0;         // peft's default
  uint64_t random_loc_seed = 777; // positions (peft's default)
  bool zero_init = false;         // spectrum starts at 0 instead of N(0, 1)
  uint64_t seed = 0;              // the N(0, 1) start
};

// The first n of torch.randperm(OUT * IN) as (rows, cols).
SpectrumPositions fourier_positions(int64_t out_features, int64_t in_features,
                                    int64_t n_frequency, uint64_t random_loc_seed);

class FourierFT : public AdditiveAdapter {
 public:
  FourierFT(const Linear& base, const FourierOptions& options);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "FourierFT"; }

  Tensor delta_weight() const override;   // scaling Re(ifft2(F)), [OUT, IN]

  const FourierOptions& options() const { return options_; }
  const SpectrumPositions& positions() const { return positions_; }
  // Trainable values per adapted layer: n.
  static int64_t parameter_count(const FourierOptions& options) { return options.n_frequency; }

  Variable fourierft_spectrum;  // [n]

 private:
  // The fixed positions are registered nowhere, so Module::to does not move them: they follow
  // the spectrum's device when first used there (moved once).
  const SpectrumPositions& positions_on_device() const;

  FourierOptions options_;
  mutable SpectrumPositions positions_;
};

}  // namespace neat
