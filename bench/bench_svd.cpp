// SVD benchmark: tensor/svd.h's thin SVD (float64) on the shapes PiSSA and MiLoRA meet in a
// ViT-B/16 (768 x 768 attention projections, 3072 x 768 and 768 x 3072 MLP weights) and a tall
// 4096 x 768, on a rank-deficient and an ill-conditioned 768 x 768, and the randomized
// svd_lowrank of peft's "pissa_niter_4" at rank 16. Prints for each the best wall time of
// three runs, the CPU time of that run (the two differ when other processes share the cores),
// and the reconstruction and orthogonality errors relative to the matrix's norm. Figures only.
//
//   OMP_NUM_THREADS=1 build/bench/bench_svd        # one core (docs/svd.md's figures)
//   OMP_NUM_THREADS=1 build/bench/bench_svd 768    # only the cases whose name contains "768"
//
// PyTorch's figure for the same matrix, for comparison (its LAPACK's divide and conquer):
//   python -c "import torch,time; torch.set_num_threads(1); a=torch.randn(768,768,
//     dtype=torch.float64); torch.linalg.svd(a); t=time.time();
//     torch.linalg.svd(a, full_matrices=False); print(time.time()-t)"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "tensor/elementwise.h"
#include "tensor/matmul.h"
#include "tensor/shape_ops.h"
#include "tensor/svd.h"

using namespace neat;

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// max |x| of a float64 tensor.
double max_abs(const Tensor& t) {
  double worst = 0;
  for (double x : t.to_vector<double>()) worst = std::max(worst, std::abs(x));
  return worst;
}

// Q1 diag(s) Q2^T [n, n] with s_i = 10^(-12 i / (n - 1)) (condition number 1e12), or with
// the second half of s zero (rank n / 2).
Tensor with_spectrum(int64_t n, bool rank_deficient, Generator& gen) {
  Tensor q1 = svd(randn({n, n}, gen, DType::Float64)).U;
  const Tensor q2 = svd(randn({n, n}, gen, DType::Float64)).U;
  double* p = q1.data<double>();
  for (int64_t j = 0; j < n; ++j) {
    const double s = rank_deficient ? (j < n / 2 ? 1.0 : 0.0) : std::pow(10.0, -12.0 * j / (n - 1));
    for (int64_t i = 0; i < n; ++i) p[i * n + j] *= s;
  }
  return matmul(q1, q2, false, true);
}

struct Case {
  std::string name;
  std::function<Tensor(Generator&)> make;
  int64_t lowrank_q = 0;   // 0: the exact SVD; else svd_lowrank(a, q, 4)
};

}  // namespace

int main(int argc, char** argv) {
  const std::string filter = argc > 1 ? argv[1] : "";
  std::vector<Case> cases{
      {"768x768", [](Generator& g) { return randn({768, 768}, g, DType::Float64); }},
      {"4096x768", [](Generator& g) { return randn({4096, 768}, g, DType::Float64); }},
      {"3072x768", [](Generator& g) { return randn({3072, 768}, g, DType::Float64); }},
      {"768x3072", [](Generator& g) { return randn({768, 3072}, g, DType::Float64); }},
      {"768x768 rank 384", [](Generator& g) { return with_spectrum(768, true, g); }},
      {"768x768 cond 1e12", [](Generator& g) { return with_spectrum(768, false, g); }},
      {"768x768 lowrank q16 niter4", [](Generator& g) { return randn({768, 768}, g, DType::Float64); }, 16},
      {"3072x768 lowrank q16 niter4", [](Generator& g) { return randn({3072, 768}, g, DType::Float64); }, 16},
  };
  std::printf("%-30s %10s %10s %12s %12s\n", "case", "wall s", "cpu s", "recon err", "orth err");
  for (const Case& c : cases) {
    if (c.name.find(filter) == std::string::npos) continue;
    Generator gen(1);
    const Tensor a = c.make(gen);
    double best = 1e30, best_cpu = 0;
    Svd d;
    for (int rep = 0; rep < 3; ++rep) {
      Generator draws(2);
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = cpu_seconds();
      d = c.lowrank_q ? svd_lowrank(a, c.lowrank_q, 4, draws) : svd(a);
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (wall < best) best = wall, best_cpu = cpu_seconds() - cpu_start;
    }
    // || U diag(S) Vh - A || / ||A|| (max norms; the low-rank case leaves out the rest of A,
    // so its figure is sigma_{q+1} / ||A||) and max |U^T U - I|.
    Tensor us = d.U.clone();
    const int64_t k = d.S.numel();
    for (int64_t i = 0; i < us.size(0); ++i)
      for (int64_t j = 0; j < k; ++j) us.data<double>()[i * k + j] *= d.S.flat(j);
    const double recon = max_abs(sub(matmul(us, d.Vh), a)) / max_abs(a);
    Tensor gram = matmul(d.U, d.U, true, false);
    for (int64_t j = 0; j < k; ++j) gram.data<double>()[j * k + j] -= 1;
    std::printf("%-30s %10.3f %10.3f %12.2e %12.2e\n", c.name.c_str(), best, best_cpu, recon,
                max_abs(gram));
  }
  return 0;
}
