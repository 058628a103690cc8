#include "autograd/sparse_idft2.h"

namespace neat {

namespace {
struct SparseIdft2RealNode : Node {
  SpectrumPositions positions;  // integer positions only: the op is linear in the spectrum
  const char* name() const override { return "sparse_idft2_real"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { positions = SpectrumPositions(); }
};
}  // namespace

Variable sparse_idft2_real(const Variable& spectrum, const SpectrumPositions& positions) {
  auto node = std::make_shared<SparseIdft2RealNode>();
  node->positions = positions;
  return record(sparse_idft2_real(spectrum.data(), positions), std::move(node), {spectrum});
}

// forward: Y[p, q] = 1/(O I) sum_k c_k cos(2 pi (u_k p / O + v_k q / I)), Y [O, I], c [n]
//   dc_k = sum_{p,q} dY[p, q] dY/dc_k = 1/(O I) sum_{p,q} dY[p, q] cos(2 pi (u_k p/O + v_k q/I)):
//   the adjoint of the forward's two stages, run in reverse order (tensor/sparse_idft2.h).
std::vector<Tensor> SparseIdft2RealNode::backward(const Tensor& grad) {
  return {sparse_idft2_real_backward(grad, positions)};
}

}  // namespace neat
