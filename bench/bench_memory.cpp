// Memory bandwidth, the other half of the machine's roofline (bench_gemm gives the GEMM peak):
// STREAM's copy (c = a) and triad (a = b + s c) over 64 MiB float arrays, far larger than any
// cache, at 1 thread and at all threads; GB/s counts the bytes each kernel reads and writes.
// An elementwise op of a training step (gelu, add, a layer_norm pass) can go no faster than
// this. Also the cost of touching freshly mapped memory (a page fault and the kernel zeroing
// the page: what a step pays for every new page its tensors get). Figures only.
//
//   build/bench/bench_memory
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

// Best of 7 runs of `kernel` in GB/s, `bytes` moved per run.
template <typename Kernel>
double best_gb_per_s(double bytes, const Kernel& kernel) {
  double best = 0;
  for (int rep = 0; rep < 7; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    kernel();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, bytes / s * 1e-9);
  }
  return best;
}

}  // namespace

int main() {
  const int64_t n = int64_t(16) << 20;   // 16 Mi floats = 64 MiB per array
  std::vector<float> a(size_t(n), 1.0f), b(size_t(n), 2.0f), c(size_t(n), 0.5f);
  int max_threads = 1;
#ifdef _OPENMP
  max_threads = omp_get_max_threads();
#endif
  std::printf("memory bandwidth, 64 MiB float arrays, best of 7, GB/s\n%-8s %8s %8s\n", "threads",
              "copy", "triad");
  std::vector<int> thread_counts = {1};
  if (max_threads > 1) thread_counts.push_back(max_threads);
  for (int threads : thread_counts) {
    float* pa = a.data();
    float* pb = b.data();
    float* pc = c.data();
    auto copy = [&] {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t i = 0; i < n; ++i) pc[i] = pa[i];
    };
    auto triad = [&] {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t i = 0; i < n; ++i) pa[i] = pb[i] + 0.5f * pc[i];
    };
    const double copy_gb = best_gb_per_s(2.0 * 4.0 * double(n), copy);
    const double triad_gb = best_gb_per_s(3.0 * 4.0 * double(n), triad);
    std::printf("%-8d %8.1f %8.1f\n", threads, copy_gb, triad_gb);
    std::printf("BENCH {\"name\":\"memory\",\"threads\":%d,\"copy_gb_per_s\":%.2f,"
                "\"triad_gb_per_s\":%.2f}\n", threads, copy_gb, triad_gb);
  }
  // First touch: map 256 MiB, write one byte per 4 KiB page, best of 3.
  const size_t bytes = size_t(256) << 20, page = 4096;
  double best_us = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    void* mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) break;
    volatile char* p = static_cast<char*>(mapped);
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < bytes; i += page) p[i] = 1;
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    best_us = std::min(best_us, us / double(bytes / page));
    munmap(mapped, bytes);
  }
  std::printf("first touch of a fresh 4 KiB page: %.2f us\n", best_us);
  std::printf("BENCH {\"name\":\"page_fault\",\"us_per_page\":%.3f}\n", best_us);
  return 0;
}
