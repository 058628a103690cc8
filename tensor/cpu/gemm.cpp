// Our CPU GEMM: C = alpha * op(A) op(B) + beta * C, row-major (see gemm.h), in the
// GotoBLAS/BLIS style. Shapes: op(A) M x K, op(B) K x N, C M x N. docs/gemm.md has the math.
//
// Blocking, loops from outside in (numbers: float, AVX-512, 48 KiB L1 and 2 MiB L2 per core):
//
//   for ic in M step MC            A panel  op(A)[ic:+MC, pc:+KC], 2730 x 384 floats = 4 MiB,
//     for pc in K step KC            packed once, kept in L3, reused by every B block below
//       pack A panel
//       for jc in N step NC        B block  op(B)[pc:+KC, jc:+NC], 384 x 672 floats = 1 MiB,
//         pack B block               packed once per A panel, kept in L2
//         for ir in MC step MR     A micro-panel MR x KC = 14 x 384 floats = 21 KiB, stays in
//           for jr in NC step NR     L1 while the kernel sweeps the B block's micro-panels
//             micro-kernel: C[ir:+MR, jr:+NR] (+)= A micro-panel^T B micro-panel
//
// The micro-kernel (gemm_kernels.h) keeps a 14 x 32 tile of C in 28 registers; each k step
// reads 2 vectors of B (from L2) and broadcasts 14 values of A (from L1) for 28 FMAs.
//
// Packing is where the transposes are absorbed: the kernel always sees op(A) as MR-row
// micro-panels and op(B) as NR-column micro-panels, contiguous in k and zero-padded to full
// tiles, so one kernel serves all four transpose cases and every edge.
//
// Threads (OpenMP) each take an equal slice of C's rows (whole MR tiles) and run the blocked
// loops on it with their own buffers: no barriers, no shared writes. Every element of C is
// computed by one thread in the same k order whatever the thread count, so results are
// bitwise identical on 1 or 2 threads.
#include "tensor/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <new>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/cpu/gemm_kernels.h"

namespace neat {

namespace {

using gemm_detail::micro_kernel;
using gemm_detail::micro_kernel_edge;
using gemm_detail::mr;
using gemm_detail::nr;
using gemm_detail::pack_rows;

std::atomic<int64_t> calls{0};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Block sizes in elements, sized in bytes so float and double fill the caches alike.
// KC: an MR x KC A micro-panel is half of L1 (21 KiB), the rest is for streaming B and C.
// NC: a KC x NC B block is half of L2 (1 MiB), the rest is for C and the next A micro-panel.
// MC: a KC x MC A panel (4 MiB) stays in L3 while all of a row's B blocks pass by; large, so B
// is rarely packed twice. MC and NC are multiples of MR and NR.
template <typename T>
struct Blocks {
  static constexpr int64_t KC = 384 * 4 / int64_t(sizeof(T));
  static constexpr int64_t MC = (2730 * 4 / int64_t(sizeof(T))) / mr<T>() * mr<T>();
  static constexpr int64_t NC = (672 * 4 / int64_t(sizeof(T))) / nr<T>() * nr<T>();
};

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

thread_local Scratch a_scratch, b_scratch;

// Copy n values and zero-fill up to `full` (the zero padding of edge micro-panels).
template <int full, typename T>
void copy_padded(const T* src, int n, T* dst) {
  if (n == full) {
    for (int i = 0; i < full; ++i) dst[i] = src[i];  // fixed count: unrolled, vectorised
  } else {
    for (int i = 0; i < full; ++i) dst[i] = i < n ? src[i] : T(0);
  }
}

// Pack op(A)[0:mc, 0:kc] (A already offset to the panel) into MR-row micro-panels:
// out[panel][p][i] = op(A)[panel*MR + i, p], rows past mc are zero.
// Both packing routines walk the source in its memory order, so reads stream from DRAM.
template <typename T>
void pack_a(bool trans, int64_t mc, int64_t kc, const T* A, int64_t lda, T* out) {
  constexpr int MR = mr<T>();
  if (trans) {  // op(A)[i, p] = A[p, i]: row p of A feeds step p of every micro-panel
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t i0 = 0; i0 < mc; i0 += MR)
        copy_padded<MR>(A + p * lda + i0, int(std::min<int64_t>(MR, mc - i0)),
                        out + i0 * kc + p * MR);
    return;
  }
  for (int64_t i0 = 0; i0 < mc; i0 += MR, out += MR * kc) {  // A[i, p]: MR rows side by side
    const int m = int(std::min<int64_t>(MR, mc - i0));
    const T* src = A + i0 * lda;
    if (m == MR) {
      pack_rows<T>(src, lda, kc, out);
    } else {
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) out[p * MR + i] = i < m ? src[i * lda + p] : T(0);
    }
  }
}

// Pack op(B)[0:kc, 0:nc] (B already offset to the block) into NR-column micro-panels:
// out[panel][p][j] = op(B)[p, panel*NR + j], columns past nc are zero.
template <typename T>
void pack_b(bool trans, int64_t kc, int64_t nc, const T* B, int64_t ldb, T* out) {
  constexpr int NR = nr<T>();
  if (!trans) {  // op(B)[p, j] = B[p, j]: row p of B feeds step p of every micro-panel
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t j0 = 0; j0 < nc; j0 += NR)
        copy_padded<NR>(B + p * ldb + j0, int(std::min<int64_t>(NR, nc - j0)),
                        out + j0 * kc + p * NR);
    return;
  }
  for (int64_t j0 = 0; j0 < nc; j0 += NR, out += NR * kc) {  // B[j, p]: one row per column
    const int n = int(std::min<int64_t>(NR, nc - j0));
    for (int j = 0; j < n; ++j) {
      const T* src = B + (j0 + j) * ldb;
      for (int64_t p = 0; p < kc; ++p) out[p * NR + j] = src[p];
    }
    for (int j = n; j < NR; ++j)
      for (int64_t p = 0; p < kc; ++p) out[p * NR + j] = T(0);
  }
}

// Address of op(X)[row, col] for X stored row-major with stride ld.
template <typename T>
const T* op_at(const T* X, int64_t ld, bool trans, int64_t row, int64_t col) {
  return trans ? X + col * ld + row : X + row * ld + col;
}

// C = beta * C, with beta == 0 writing zeros (not 0 * NaN).
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// Threads OpenMP would give a new parallel region here (1 inside another parallel region).
int max_threads() {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

// Below ~64^3 multiply-adds, waking a second thread costs more than it saves.
int threads_for(int64_t M, int64_t N, int64_t K) {
  return double(M) * double(N) * double(K) >= 262144.0 ? max_threads() : 1;
}

// One thread's share, serially: C[0:M, 0:N] (+)= op(A) op(B), pointers already offset.
template <typename T>
void gemm_blocked(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  constexpr int MR = mr<T>(), NR = nr<T>();
  constexpr int64_t KC = Blocks<T>::KC, MC = Blocks<T>::MC, NC = Blocks<T>::NC;
  // Equal-width column blocks (N = 768 -> 2 x 384, not 672 + 96), rounded to NR.
  const int64_t nc = std::min(NC, round_up(ceil_div(N, ceil_div(N, NC)), NR));
  T* a_pack = a_scratch.get<T>(round_up(std::min(MC, M), MR) * std::min(KC, K));
  T* b_pack = b_scratch.get<T>(std::min(KC, K) * nc);

  for (int64_t ic = 0; ic < M; ic += MC) {
    const int64_t m = std::min(MC, M - ic);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const T beta_k = pc == 0 ? beta : T(1);  // later k blocks accumulate onto C
      pack_a(trans_a, m, kc, op_at(A, lda, trans_a, ic, pc), lda, a_pack);
      for (int64_t jc = 0; jc < N; jc += nc) {
        const int64_t n = std::min(nc, N - jc);
        pack_b(trans_b, kc, n, op_at(B, ldb, trans_b, pc, jc), ldb, b_pack);
        for (int64_t ir = 0; ir < m; ir += MR) {
          const int mt = int(std::min<int64_t>(MR, m - ir));
          for (int64_t jr = 0; jr < n; jr += NR) {
            const int nt = int(std::min<int64_t>(NR, n - jr));
            T* c = C + (ic + ir) * ldc + jc + jr;
            if (mt == MR && nt == NR)
              micro_kernel<T>(kc, a_pack + ir * kc, b_pack + jr * kc, alpha, beta_k, c, ldc);
            else
              micro_kernel_edge<T>(kc, a_pack + ir * kc, b_pack + jr * kc, alpha, beta_k, c, ldc,
                                   mt, nt);
          }
        }
      }
    }
  }
}

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  calls.fetch_add(1, std::memory_order_relaxed);
  if (M <= 0 || N <= 0) return;
  if (alpha == T(0) || K <= 0) return scale_c(M, N, beta, C, ldc);  // BLAS: A, B not read

  // Threads take equal slices of C's rows, in whole MR-row tiles (or of its columns when
  // there are too few rows); each runs the blocked GEMM on its slice with its own buffers.
  constexpr int MR = mr<T>(), NR = nr<T>();
  const int threads = threads_for(M, N, K);
  const bool split_rows = ceil_div(M, MR) >= 2 * threads || M >= N;
  const int64_t tile = split_rows ? MR : NR, extent = split_rows ? M : N;
  const int64_t tiles = ceil_div(extent, tile);

#pragma omp parallel for num_threads(threads) schedule(static, 1) if (threads > 1)
  for (int t = 0; t < threads; ++t) {
    const int64_t begin = std::min(extent, t * tiles / threads * tile);
    const int64_t end = std::min(extent, (t + 1) * tiles / threads * tile);
    if (begin == end) continue;
    if (split_rows)
      gemm_blocked(trans_a, trans_b, end - begin, N, K, alpha, op_at(A, lda, trans_a, begin, 0),
                   lda, B, ldb, beta, C + begin * ldc, ldc);
    else
      gemm_blocked(trans_a, trans_b, M, end - begin, K, alpha, A, lda,
                   op_at(B, ldb, trans_b, 0, begin), ldb, beta, C + begin, ldc);
  }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  gemm<float>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
           const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
           int64_t ldc) {
  gemm<double>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int64_t gemm_call_count() { return calls.load(std::memory_order_relaxed); }

}  // namespace neat
