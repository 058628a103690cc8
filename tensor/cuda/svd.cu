// The float64 Jacobi SVD for a matrix on the GPU (tensor/cuda/svd.h): a is copied to the host,
// decomposed by the CPU's one-sided Jacobi (tensor/cpu/svd_jacobi.h, docs/svd.md), and u, s, v
// are copied back. The SVD only runs when PiSSA or MiLoRA initialise an adapter, once per
// layer, so a GPU Jacobi (or cuSOLVER, another library to link) would save nothing that
// matters, and the CPU's result is the one the tests check, on either device.
#include <vector>

#include "tensor/cpu/svd_jacobi.h"
#include "tensor/cuda/svd.h"
#include "tensor/cuda/tensor.h"

namespace neat::cuda {

int svd_jacobi(Cuda, const double* a, int64_t m, int64_t n, double* u, double* s, double* v) {
  std::vector<double> host_a(static_cast<size_t>(m * n)), host_u(host_a.size()),
      host_s(static_cast<size_t>(n)), host_v(static_cast<size_t>(n * n));
  copy_to_host(Cuda{}, host_a.data(), a, host_a.size() * sizeof(double));
  const int sweeps = cpu::svd_jacobi(cpu::Cpu{}, host_a.data(), m, n, host_u.data(),
                                     host_s.data(), host_v.data());
  copy_from_host(Cuda{}, u, host_u.data(), host_u.size() * sizeof(double));
  copy_from_host(Cuda{}, s, host_s.data(), host_s.size() * sizeof(double));
  copy_from_host(Cuda{}, v, host_v.data(), host_v.size() * sizeof(double));
  return sweeps;
}

}  // namespace neat::cuda
