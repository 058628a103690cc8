#include "nn/peft/pissa.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>

#include "tensor/elementwise.h"
#include "tensor/matmul.h"
#include "tensor/shape_ops.h"
#include "tensor/svd.h"

namespace neat {

void init_lora_from_svd(Lora& layer, SvdInit which, int64_t niter) {
  NEAT_CHECK(!layer.merged(), "init_lora_from_svd: the layer is merged");
  NEAT_CHECK(niter >= -1, "init_lora_from_svd: niter ", niter, " is not -1 (exact) or >= 0");
  NEAT_CHECK(niter == -1 || which == SvdInit::Principal, "init_lora_from_svd: the randomized SVD "
             "(niter ", niter, ") finds the top triplets only; MiLoRA needs the bottom ones");
  NoGradGuard no_grad;
  const Tensor w = layer.weight.data();
  const int64_t out = w.size(0), in = w.size(1), r = layer.options().rank;
  const int64_t k = std::min(out, in);
  NEAT_CHECK(r <= k, "init_lora_from_svd: rank ", r, " exceeds min(out, in) = ", k,
             " of the weight ", shape_str(w.shape()));
  Generator gen(layer.options().seed);
  Svd d = niter >= 0 ? svd_lowrank(w, r, niter, gen) : svd(w);
  const int64_t first = which == SvdInit::Principal ? 0 : k - r;
  Tensor u = narrow(d.U, 1, first, r).to(DType::Float64);    // [OUT, R]
  Tensor s = narrow(d.S, 0, first, r).to(DType::Float64);    // [R]
  Tensor vh = narrow(d.Vh, 0, first, r).to(DType::Float64);  // [R, IN]
  const double scaling = layer.scaling();
  Tensor a({r, in}, DType::Float64), b({out, r}, DType::Float64);
  for (int64_t j = 0; j < r; ++j) {
    const double root = std::sqrt(s.data<double>()[j] / scaling);
    for (int64_t i = 0; i < in; ++i) a.data<double>()[j * in + i] = root * vh.data<double>()[j * in + i];
    for (int64_t o = 0; o < out; ++o) b.data<double>()[o * r + j] = u.data<double>()[o * r + j] * root;
  }
  layer.lora_A->weight.data().copy_from(a);
  layer.lora_B->weight.data().copy_from(b);
  // The residual is formed from the A and B as stored (in the weight's dtype), so that
  // W0_res + s B A reproduces W0 up to one rounding.
  Tensor chosen = matmul(layer.lora_B->weight.data(), layer.lora_A->weight.data());
  Tensor residual = w;
  axpy_(residual, -scaling, chosen);
}

// "pissa: SVD of 24 weights (768 x 768, 3072 x 768)": the distinct shapes in order.
static std::string svd_summary(const std::vector<Lora*>& layers, SvdInit which, int64_t niter) {
  std::vector<std::string> shapes;
  for (const Lora* layer : layers) {
    const std::string shape = std::to_string(layer->weight.size(0)) + " x " +
                              std::to_string(layer->weight.size(1));
    if (std::find(shapes.begin(), shapes.end(), shape) == shapes.end()) shapes.push_back(shape);
  }
  std::string text = which == SvdInit::Principal ? "pissa: " : "milora: ";
  text += niter >= 0 ? "randomized SVD (" + std::to_string(niter) + " iterations)" : "SVD";
  text += " of " + std::to_string(layers.size()) + " weights (";
  for (size_t i = 0; i < shapes.size(); ++i) text += (i ? ", " : "") + shapes[i];
  return text + ")";
}

void init_loras_from_svd(const std::vector<Lora*>& layers, SvdInit which, int64_t niter,
                         std::ostream* progress, double announce_after) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  bool announced = false;
  double elapsed = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    init_lora_from_svd(*layers[i], which, niter);
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
    if (!announced && progress && elapsed * double(layers.size()) / double(i + 1) > announce_after) {
      *progress << svd_summary(layers, which, niter) << " ..." << std::flush;
      announced = true;
    }
  }
  if (!announced) return;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, " %.1f s\n", elapsed);
  *progress << seconds << std::flush;
}

}  // namespace neat
