// GEMM benchmark: our sgemm against OpenBLAS's cblas_sgemm (when built with -DHAVE_OPENBLAS,
// which the Makefile passes if cblas.h is installed), timed in the same run, on squares, on
// the ViT shapes, on the rank-R adapter shapes and on attention's per-head shapes below.
// Beside them, bf16_gemm on the same values rounded to bf16 (float32 C), on the path this CPU
// takes (bf16_gemm_path(): AMX, AVX512-BF16, or the conversion to float32 while packing), whose
// operands take half the memory. Prints a table and one `BENCH {json}` line per row. Figures only.
//
//   build/bench/bench_gemm            # OMP_NUM_THREADS / OPENBLAS_NUM_THREADS pick threads
//   build/bench/bench_gemm rank       # only the cases whose name contains "rank"
//   build/bench/bench_gemm head       # attention's per-head products
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

#include "tensor/cpu/gemm.h"
#include "tensor/random.h"

namespace {

struct Shape {
  std::string name;
  int64_t m, n, k;
  bool trans_a, trans_b;
};

// Best wall time in seconds of `run` over enough repetitions to fill ~0.5 s (at least 3),
// after one warm-up call. Best-of is the least noisy estimate on a shared machine. The pause
// first lets the other library's idle threads stop spinning (OpenBLAS's spin for ~0.1 s after
// a call, OpenMP's briefly), so the two never compete for the cores.
double best_seconds(const std::function<void()>& run) {
  using clock = std::chrono::steady_clock;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  run();
  double best = 1e30, total = 0;
  for (int rep = 0; rep < 3 || (total < 0.5 && rep < 100); ++rep) {
    auto start = clock::now();
    run();
    double s = std::chrono::duration<double>(clock::now() - start).count();
    best = std::min(best, s);
    total += s;
  }
  return best;
}

std::vector<float> random_vector(int64_t n, neat::Generator& gen) {
  std::vector<float> v(n);
  for (auto& x : v) x = float(gen.uniform(-1.0, 1.0));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string filter = argc > 1 ? argv[1] : "";
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#endif

  // ViT shapes: X (T, D) with T = 4160 tokens (64 images x 65 tokens: 32x32 images, 4x4
  // patches + [CLS]), D = 192 (ViT-Tiny); W (N, D) for N = 192 (attention projections),
  // 576 (fused q/k/v), 768 (MLP hidden). Forward Y = X W^T; backward dX = dY W, dW = dY^T X.
  std::vector<Shape> shapes;
  for (int64_t s : {256, 512, 1024, 2048}) shapes.push_back({"square", s, s, s, false, false});
  for (int64_t n : {192, 576, 768}) {
    shapes.push_back({"vit_fwd", 4160, n, 192, false, true});
    shapes.push_back({"vit_dx", 4160, 192, n, false, false});
    shapes.push_back({"vit_dw", n, 192, 4160, true, false});
  }
  // Rank-R adapter shapes (LoRA / Neat, R = 8) on a D x D frozen W0 (D = 768 ViT-Base, 192
  // ViT-Tiny), T = 4160 token rows: one dimension of each product is R.
  //   rank_M  M = W0^T A^T   [D, D]^T [R, D]^T   M=D  N=R  K=D   trans_a, trans_b
  //   rank_z  z = x M        [T, D] [D, R]       M=T  N=R  K=D
  //   rank_dB dB = dy^T z    [T, D]^T [T, R]     M=D  N=R  K=T   trans_a
  //   rank_dx dx += dz M^T   [T, R] [D, R]^T     M=T  N=D  K=R   trans_b
  //   rank_dA dA = dpre^T W0^T  [D, R]^T [D, D]^T  M=R  N=D  K=D  trans_a, trans_b
  for (int64_t d : {768, 192}) {
    const int64_t r = 8, t = 4160;
    shapes.push_back({"rank_M", d, r, d, true, true});
    shapes.push_back({"rank_z", t, r, d, false, false});
    shapes.push_back({"rank_dB", d, r, t, true, false});
    shapes.push_back({"rank_dx", t, d, r, false, true});
    shapes.push_back({"rank_dA", r, d, d, true, true});
  }

  // Attention's per-head products, d = 64, N = 65 tokens (cifar-vit) and 197 (ViT-B/16): these
  // are where the tile edges cost most (N = 65 is two 32-wide tiles and one column).
  //   head_S   S = Q K^T (and dP = dO V^T)   M=N  N=N  K=d   trans_b
  //   head_O   O = P V   (and dQ = dS K)     M=N  N=d  K=N
  //   head_dV  dV = P^T dO (and dK = dS^T Q) M=N  N=d  K=N   trans_a
  for (int64_t n : {65, 197}) {
    shapes.push_back({"head_S", n, n, 64, false, true});
    shapes.push_back({"head_O", n, 64, n, false, false});
    shapes.push_back({"head_dV", n, 64, n, true, false});
  }

  const char* bf16_path = neat::bf16_gemm_path_name(neat::bf16_gemm_path());
  std::printf("sgemm and bf16_gemm (%s path), %d thread(s); GFLOP/s = 2*M*N*K / best time\n",
              bf16_path, threads);
  std::printf("%-8s %6s %6s %6s %3s %3s %10s %10s %7s %10s %9s\n", "case", "M", "N", "K", "tA",
              "tB", "ours", "openblas", "ratio", "ours bf16", "bf16/f32");
  neat::Generator gen(0);
  for (const Shape& s : shapes) {
    if (s.name.find(filter) == std::string::npos) continue;
    // op(A) is M x K, stored K x M when transposed; op(B) is K x N, stored N x K when transposed.
    const int64_t lda = s.trans_a ? s.m : s.k, ldb = s.trans_b ? s.k : s.n;
    auto A = random_vector(s.m * s.k, gen), B = random_vector(s.k * s.n, gen);
    std::vector<float> C(s.m * s.n, 0.0f);
    const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);

    double ours = flops / best_seconds([&] {
      neat::sgemm(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, A.data(), lda, B.data(), ldb, 0.0f,
                  C.data(), s.n);
    }) * 1e-9;
    std::vector<neat::bfloat16> A16, B16;
    for (float x : A) A16.push_back(neat::bfloat16(x));
    for (float x : B) B16.push_back(neat::bfloat16(x));
    const double bf16 = flops / best_seconds([&] {
      neat::bf16_gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, A16.data(), lda, B16.data(), ldb,
                      0.0f, C.data(), s.n);
    }) * 1e-9;
    double ref = -1;
#ifdef HAVE_OPENBLAS
    ref = flops / best_seconds([&] {
      cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans,
                  s.trans_b ? CblasTrans : CblasNoTrans, int(s.m), int(s.n), int(s.k), 1.0f,
                  A.data(), int(lda), B.data(), int(ldb), 0.0f, C.data(), int(s.n));
    }) * 1e-9;
#endif

    char ref_col[32] = "n/a", ratio_col[32] = "n/a", ref_json[32] = "null";
    if (ref > 0) {
      std::snprintf(ref_col, sizeof ref_col, "%.1f", ref);
      std::snprintf(ratio_col, sizeof ratio_col, "%.2f", ours / ref);
      std::snprintf(ref_json, sizeof ref_json, "%.2f", ref);
    }
    std::printf("%-8s %6lld %6lld %6lld %3d %3d %10.1f %10s %7s %10.1f %9.2f\n", s.name.c_str(),
                (long long)s.m, (long long)s.n, (long long)s.k, int(s.trans_a), int(s.trans_b),
                ours, ref_col, ratio_col, bf16, bf16 / ours);
    std::printf(
        "BENCH {\"name\":\"sgemm\",\"case\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"trans_a\":%s,"
        "\"trans_b\":%s,\"gflops\":%.2f,\"ref_gflops\":%s,\"bf16_gflops\":%.2f,"
        "\"bf16_path\":\"%s\",\"threads\":%d}\n",
        s.name.c_str(), (long long)s.m, (long long)s.n, (long long)s.k,
        s.trans_a ? "true" : "false", s.trans_b ? "true" : "false", ours, ref_json, bf16,
        bf16_path, threads);
  }
  return 0;
}
