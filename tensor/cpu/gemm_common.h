// What the CPU GEMMs share (gemm.cpp and the bf16 kernels, gemm_bf16*.cpp): block arithmetic,
// per-thread scratch buffers, and the split of C over OpenMP threads. Internal to tensor/cpu/.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace neat::gemm_detail {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// A growable, 64-byte aligned scratch buffer; one per thread and role, reused across calls so
// steady-state GEMMs neither allocate nor page-fault.
class Scratch {
 public:
  ~Scratch() { release(); }
  template <typename T>
  T* get(int64_t count) {
    size_t need = size_t(count) * sizeof(T);
    if (need > bytes_) {
      release();
      data_ = ::operator new(need, std::align_val_t(64));
      bytes_ = need;
    }
    return static_cast<T*>(data_);
  }

 private:
  void release() {
    if (data_) ::operator delete(data_, std::align_val_t(64));
    data_ = nullptr;
    bytes_ = 0;
  }
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Address of op(X)[row, col] for X stored row-major with stride ld.
template <typename T>
T* op_at(T* X, int64_t ld, bool trans, int64_t row, int64_t col) {
  return trans ? X + col * ld + row : X + row * ld + col;
}

// Threads OpenMP would give a new parallel region here (1 inside another parallel region).
inline int max_threads() {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

// Below ~64^3 multiply-adds, waking a second thread costs more than it saves.
inline int threads_for(int64_t M, int64_t N, int64_t K) {
  return double(M) * double(N) * double(K) >= 262144.0 ? max_threads() : 1;
}

// Runs body(begin, end) on `threads` threads, for equal slices of [0, extent) in whole tiles.
template <typename Body>
void split(int threads, int64_t extent, int64_t tile, const Body& body) {
  if (threads == 1) return body(0, extent);  // no region: one costs ~0.3 us, a head's GEMM ~8
  const int64_t tiles = ceil_div(extent, tile);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int t = 0; t < threads; ++t) {
    const int64_t begin = std::min(extent, t * tiles / threads * tile);
    const int64_t end = std::min(extent, (t + 1) * tiles / threads * tile);
    if (begin < end) body(begin, end);
  }
}

}  // namespace neat::gemm_detail
