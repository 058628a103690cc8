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
// reads 2 vectors of B (from L2) and broadcasts 14 values of A (from L1) for 28 FMAs. The
// epilogue (gemm.h) costs no pass over C: a bias (a Linear's) is added as the first k block's
// tiles are stored, a residual as the last k block's are, and GELU runs on each tile of the
// last k block right after its store.
//
// Packing is where the transposes are absorbed: the kernel always sees op(A) as MR-row
// micro-panels and op(B) as NR-column micro-panels, contiguous in k and zero-padded to full
// tiles, so one kernel serves all four transpose cases and every edge.
//
// Skinny products (N or M at most 16, like a rank-8 adapter's [T, D] x [D, R]) take
// gemm_skinny instead: at N = 8 the 32-wide tile would waste 3/4 of its FMAs, and packing A,
// which pays off when a panel serves many B panels, would serve one. The skinny kernels
// (gemm_skinny_kernels.h) read op(A) where it lies and run their vectors along its contiguous
// direction; a small M becomes a small N by computing C^T = op(B)^T op(A)^T.
//
// Threads (OpenMP) each take an equal slice of C's rows (whole MR tiles; the skinny path, of
// the long side) and run the loops on it with their own buffers: no barriers, no shared writes.
// Every element of C is computed by one thread in the same k order whatever the thread count,
// so results are bitwise identical on 1 or 2 threads.
#include "tensor/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstddef>

#include "tensor/cpu/gemm_bf16.h"
#include "tensor/cpu/gemm_common.h"
#include "tensor/cpu/gemm_kernels.h"
#include "tensor/cpu/gemm_skinny_kernels.h"
#include "tensor/scalar_math.h"

namespace neat {

namespace {

using gemm_detail::ceil_div;
using gemm_detail::kDR;
using gemm_detail::micro_kernel;
using gemm_detail::kNV;
using gemm_detail::load_first_as;
using gemm_detail::mr;
using gemm_detail::op_at;
using gemm_detail::nr;
using gemm_detail::pack_rows;
using gemm_detail::round_up;
using gemm_detail::Scratch;
using gemm_detail::skinny_axpy_kernel;
using gemm_detail::skinny_dot_kernel;
using gemm_detail::sm;
using gemm_detail::sn;
using gemm_detail::split;
using gemm_detail::threads_for;
using gemm_detail::Vec;

std::atomic<int64_t> calls{0};

// Products with N (or M) at most this take the skinny kernels (see gemm()).
constexpr int64_t kSkinny = 16;


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


thread_local Scratch a_scratch, b_scratch;

// Copy n values and zero-fill up to `full` (the zero padding of edge micro-panels), in masked
// vectors: a 14-float A step is one load and one store, not 8 + 4 + 2 lanes.
template <int full, typename S, typename T>
void copy_padded(const S* src, int n, T* dst) {
  constexpr int W = Vec<T>::W;
#pragma GCC unroll 4
  for (int i = 0; i < full; i += W) {
    const int width = std::min(W, full - i);              // this vector's share of dst
    const int valid = std::max(0, std::min(width, n - i));  // ... that comes from src
    Vec<T>::store_first(dst + i, load_first_as(src + i, valid), width);
  }
}

// Pack op(X)[0:rows, 0:kc] (X already offset to the block) into P-row panels, contiguous in k:
// out[panel][p][i] = op(X)[panel*P + i, p], rows past `rows` zero, each panel `steps` k steps
// long (kc, or more when a second product's steps follow in the same panel). op(A) is packed
// as MR-row panels; op(B) as NR-column panels, which are the NR-row panels of op(B)^T.
// Both cases walk the source in its memory order, so reads stream from DRAM. X is T, or
// bfloat16 for a float product (the bf16 GEMM's conversion path), widened as it is packed.
template <int P, typename S, typename T>
void pack_panels(bool trans, int64_t rows, int64_t kc, const S* X, int64_t ld, T* out,
                 int64_t steps) {
  if (trans) {  // op(X)[i, p] = X[p, i]: row p of X feeds step p of every panel
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t i0 = 0; i0 < rows; i0 += P)
        copy_padded<P>(X + p * ld + i0, int(std::min<int64_t>(P, rows - i0)),
                       out + i0 * steps + p * P);
    return;
  }
  for (int64_t i0 = 0; i0 < rows; i0 += P, out += P * steps)  // X[i, p]: P rows side by side
    pack_rows<P>(X + i0 * ld, ld, kc, out, int(std::min<int64_t>(P, rows - i0)));
}


// The epilogue's GELU on an m x n block of C (in cache when it is a tile just stored), written
// to out (C itself, or the block's place in gelu_out; row stride ldc): the same function as the
// gelu op's, so the result is the same bits as the product, then gelu.
template <typename T>
void gelu_block(int64_t m, int64_t n, const T* c, int64_t ldc, T* out) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) out[i * ldc + j] = gelu_forward(c[i * ldc + j]);
}

// Where gelu_block writes the block of C at (row, col).
template <typename T>
T* gelu_target(const GemmEpilogue<T>& e, T* C, int64_t ldc, int64_t row, int64_t col) {
  return (e.gelu_out == nullptr ? C : e.gelu_out) + row * ldc + col;
}

// The epilogue for the block of C from (row, col) on.
template <typename T>
GemmEpilogue<T> epilogue_at(const GemmEpilogue<T>& e, int64_t ldc, int64_t row, int64_t col) {
  return {e.bias == nullptr ? nullptr : e.bias + col,
          e.residual == nullptr ? nullptr : e.residual + row * ldc + col, e.gelu,
          e.gelu_out == nullptr ? nullptr : e.gelu_out + row * ldc + col};
}

// The second product from (row, col) of C on.
template <typename S>
GemmSecondProduct<S> second_at(const GemmSecondProduct<S>& s, int64_t row, int64_t col) {
  GemmSecondProduct<S> at = s;
  if (s.a != nullptr) {
    at.a = op_at(s.a, s.lda, s.trans_a, row, 0);
    at.b = op_at(s.b, s.ldb, s.trans_b, 0, col);
  }
  return at;
}

// The epilogue's steps after the product, on the whole of C, as passes: for the paths whose
// kernels have no epilogue (the skinny kernels, alpha = 0 or K = 0). The bias is theirs to add
// first.
template <typename T>
void finish_c(int64_t M, int64_t N, T* C, int64_t ldc, const GemmEpilogue<T>& e) {
  if (e.residual != nullptr)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] += e.residual[i * ldc + j];
  if (e.gelu) gelu_block(M, N, C, ldc, gelu_target(e, C, ldc, 0, 0));
}

// C = beta * C (+ bias in every row), with beta == 0 writing zeros (not 0 * NaN).
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc, const T* bias) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const T c = beta == T(0) ? T(0) : beta * C[i * ldc + j];
      C[i * ldc + j] = bias == nullptr ? c : c + bias[j];
    }
}


// One thread's share, serially: C[0:M, 0:N] (+)= op(A) op(B) (+ scale op(A2) op(B2)),
// pointers already offset. The second product's k2 steps extend the last k block's panels, so
// the micro-kernel sums them into the same registers as the first product's. S, the operands'
// type, is T or bfloat16 (T float): packing widens it.
template <typename T, typename S>
void gemm_blocked(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                  const S* A, int64_t lda, const S* B, int64_t ldb, T beta, T* C, int64_t ldc,
                  const GemmEpilogue<T>& epilogue, const GemmSecondProduct<S>& second) {
  constexpr int MR = mr<T>(), NR = nr<T>();
  constexpr int64_t KC = Blocks<T>::KC, MC = Blocks<T>::MC, NC = Blocks<T>::NC;
  // Equal-width column blocks (N = 768 -> 2 x 384, not 672 + 96), rounded to NR.
  const int64_t nc = std::min(NC, round_up(ceil_div(N, ceil_div(N, NC)), NR));
  const int64_t k2 = second.a == nullptr ? 0 : second.k;
  T* a_pack = a_scratch.get<T>(round_up(std::min(MC, M), MR) * (std::min(KC, K) + k2));
  T* b_pack = b_scratch.get<T>((std::min(KC, K) + k2) * nc);

  for (int64_t ic = 0; ic < M; ic += MC) {
    const int64_t m = std::min(MC, M - ic);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const T beta_k = pc == 0 ? beta : T(1);  // later k blocks accumulate onto C
      const T* bias_k = pc == 0 ? epilogue.bias : nullptr;  // ... which holds the bias
      const bool last_k = pc + kc == K;  // the residual and GELU go on the finished sums
      const int64_t extra = last_k ? k2 : 0;  // ... and the second product on the last block
      const int64_t steps = kc + extra;
      pack_panels<MR>(trans_a, m, kc, op_at(A, lda, trans_a, ic, pc), lda, a_pack, steps);
      if (extra > 0) {  // op(A2)'s steps after op(A)'s in each panel, times scale
        pack_panels<MR>(second.trans_a, m, extra,
                        op_at(second.a, second.lda, second.trans_a, ic, 0), second.lda,
                        a_pack + MR * kc, steps);
        for (int64_t row = 0; row < round_up(m, MR); row += MR) {  // panel by panel
          T* a2 = a_pack + row * steps + MR * kc;
          for (int64_t e = 0; e < MR * extra; ++e) a2[e] *= second.scale;
        }
      }
      for (int64_t jc = 0; jc < N; jc += nc) {
        const int64_t n = std::min(nc, N - jc);
        pack_panels<NR>(!trans_b, n, kc, op_at(B, ldb, trans_b, pc, jc), ldb, b_pack, steps);
        if (extra > 0)
          pack_panels<NR>(!second.trans_b, n, extra,
                          op_at(second.b, second.ldb, second.trans_b, 0, jc), second.ldb,
                          b_pack + NR * kc, steps);
        for (int64_t ir = 0; ir < m; ir += MR) {
          const int mt = int(std::min<int64_t>(MR, m - ir));
          for (int64_t jr = 0; jr < n; jr += NR) {
            const int nt = int(std::min<int64_t>(NR, n - jr));
            T* c = C + (ic + ir) * ldc + jc + jr;
            const T* bias_tile = bias_k == nullptr ? nullptr : bias_k + jc + jr;
            const T* residual_tile = epilogue.residual == nullptr || !last_k
                                         ? nullptr
                                         : epilogue.residual + (ic + ir) * ldc + jc + jr;
            if (nt > Vec<T>::W)
              micro_kernel<T, kNV>(steps, a_pack + ir * steps, b_pack + jr * steps, alpha,
                                   beta_k, bias_tile, residual_tile, c, ldc, mt, nt);
            else  // the right edge, one vector wide: half the FMAs
              micro_kernel<T, 1>(steps, a_pack + ir * steps, b_pack + jr * steps, alpha, beta_k,
                                 bias_tile, residual_tile, c, ldc, mt, nt);
            if (epilogue.gelu && last_k)
              gelu_block<T>(mt, nt, c, ldc, gelu_target(epilogue, C, ldc, ic + ir, jc + jr));
          }
        }
      }
    }
  }
}

// Pack op(B)[0:k, 0:n] (n <= SN) for skinny_dot_kernel: W-step blocks of SN columns,
// out[(p / W) * SN * W + j * W + p % W] = op(B)[p, j], zero past k and n.
template <typename S, typename T>
void pack_b_dot(bool trans, int64_t k, int64_t n, const S* B, int64_t ldb, T* out) {
  constexpr int SN = sn<T>(), W = Vec<T>::W;
  for (int64_t p0 = 0; p0 < k; p0 += W, out += SN * W)
    for (int64_t j = 0; j < SN; ++j)
      for (int64_t p = p0; p < p0 + W; ++p)
        out[j * W + p - p0] =
            p < k && j < n ? static_cast<T>(trans ? B[j * ldb + p] : B[p * ldb + j]) : T(0);
}

// One thread's share of a skinny product, serially: C[0:M, 0:N] (+)= op(A) op(B) with N small,
// C^T stored when c_trans. op(B) is packed once, in SN-column panels; op(A) is read unpacked
// (bfloat16 too: the kernels widen it as they load).
template <typename T, typename S>
void gemm_skinny(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                 const S* A, int64_t lda, const S* B, int64_t ldb, T beta, T* C, int64_t ldc,
                 bool c_trans) {
  constexpr int SM = sm<T>(), SN = sn<T>();
  auto c_at = [&](int64_t i, int64_t j) { return c_trans ? C + j * ldc + i : C + i * ldc + j; };
  if (!trans_a) {  // rows of A, DR at a time, in K blocks of KD: SN x KD of op(B) stays in L2
    constexpr int64_t KD = 4096;
    const int64_t kp = round_up(K, Vec<T>::W);
    T* bt = b_scratch.get<T>(kp * round_up(N, SN));
    for (int64_t jr = 0; jr < N; jr += SN)
      pack_b_dot(trans_b, K, std::min<int64_t>(SN, N - jr), op_at(B, ldb, trans_b, 0, jr), ldb,
                 bt + jr * kp);
    for (int64_t pc = 0; pc < K; pc += KD)
      for (int64_t ir = 0; ir < M; ir += kDR)
        for (int64_t jr = 0; jr < N; jr += SN)
          skinny_dot_kernel<T>(std::min(KD, K - pc), A + ir * lda + pc, lda, M - ir,
                               bt + jr * kp + pc * SN, alpha, pc == 0 ? beta : T(1),
                               c_at(ir, jr), ldc, c_trans, int(std::min<int64_t>(SN, N - jr)));
    return;
  }
  // Strips of SM columns of A^T, in K blocks of KS rows: one block (KS x M) stays in L2, where
  // the next strip finds the lines the hardware fetched beside this one (+15% at K = 4160).
  constexpr int64_t KS = 256;
  T* b_pack = b_scratch.get<T>(K * round_up(N, SN));
  pack_panels<SN>(!trans_b, N, K, B, ldb, b_pack, K);
  for (int64_t pc = 0; pc < K; pc += KS) {
    const int64_t kc = std::min(KS, K - pc);
    const T beta_k = pc == 0 ? beta : T(1);  // later k blocks accumulate onto C
    for (int64_t ir = 0; ir < M; ir += SM) {
      const int m = int(std::min<int64_t>(SM, M - ir));
      const S* a = A + pc * lda + ir;  // op(A)[ir, pc]
      auto run = [&](const auto* a_from, int64_t a_step) {
        for (int64_t jr = 0; jr < N; jr += SN)
          skinny_axpy_kernel<T>(kc, a_from, a_step, b_pack + jr * K + pc * SN, alpha, beta_k,
                                c_at(ir, jr), ldc, c_trans, m, int(std::min<int64_t>(SN, N - jr)));
      };
      if (m < SM) {  // the last rows: a zero-padded copy, so the kernel reads no further than A
        T* a_pack = a_scratch.get<T>(SM * kc);
        pack_panels<SM>(true, m, kc, a, lda, a_pack, kc);
        run(a_pack, SM);
      } else {
        run(a, lda);
      }
    }
  }
}


// Skinny products (a side of at most 16, like a rank-8 adapter's): the blocked 14 x 32 tile
// would waste most of its columns and pack A for a single use, so the skinny kernels read op(A)
// unpacked (gemm_skinny_kernels.h; docs/gemm.md has the measurements). N is made the small
// side, as C^T = op(B)^T op(A)^T when M is the smaller one. Where op(A)'s rows are contiguous,
// the dot kernel pays a fixed cost per row that only K >= 8 N repays; below that the blocked
// path is faster.
bool takes_skinny(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K) {
  const bool swap = M < N;
  const int64_t narrow = swap ? M : N;
  const bool dot = swap ? trans_b : !trans_a;
  return narrow <= kSkinny && (!dot || K >= 8 * narrow);
}

template <typename T, typename S>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const S* A,
          int64_t lda, const S* B, int64_t ldb, T beta, T* C, int64_t ldc,
          const GemmEpilogue<T>& epilogue, const GemmSecondProduct<S>& second) {
  if (M <= 0 || N <= 0) return;
  const bool blocked = alpha != T(0) && K > 0 && !takes_skinny(trans_a, trans_b, M, N, K);
  if (second.a != nullptr && second.k > 0 && !blocked) {
    // Only the blocked kernel takes more k steps: here the second product is a GEMM of its own
    // onto C, which then gets the epilogue's last steps.
    gemm<T, S>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, {epilogue.bias}, {});
    gemm<T, S>(second.trans_a, second.trans_b, M, N, second.k, alpha * second.scale, second.a,
            second.lda, second.b, second.ldb, T(1), C, ldc,
            {nullptr, epilogue.residual, epilogue.gelu, epilogue.gelu_out}, {});
    return;
  }
  if (alpha == T(0) || K <= 0) {  // BLAS: A, B not read
    scale_c(M, N, beta, C, ldc, epilogue.bias);
    finish_c(M, N, C, ldc, epilogue);
    return;
  }
  const int threads = threads_for(M, N, K);

  if (!blocked) {  // skinny
    const bool swap = M < N;
    const int64_t wide = swap ? N : M;
    if (epilogue.bias != nullptr) {  // the skinny kernels have no epilogue: C starts from
      scale_c(M, N, beta, C, ldc, epilogue.bias);  // the bias, the rest is finish_c's
      beta = T(1);
    }
    split(threads, wide, sm<T>(), [&](int64_t begin, int64_t end) {
      if (swap)
        gemm_skinny(!trans_b, !trans_a, end - begin, M, K, alpha,
                    op_at(B, ldb, trans_b, 0, begin), ldb, A, lda, beta, C + begin, ldc, true);
      else
        gemm_skinny(trans_a, trans_b, end - begin, N, K, alpha,
                    op_at(A, lda, trans_a, begin, 0), lda, B, ldb, beta, C + begin * ldc, ldc,
                    false);
    });
    finish_c(M, N, C, ldc, epilogue);
    return;
  }

  // Threads take equal slices of C's rows, in whole MR-row tiles (or of its columns when
  // there are too few rows); each runs the blocked GEMM on its slice with its own buffers.
  constexpr int MR = mr<T>(), NR = nr<T>();
  if (ceil_div(M, MR) >= 2 * threads || M >= N)
    split(threads, M, MR, [&](int64_t begin, int64_t end) {
      gemm_blocked(trans_a, trans_b, end - begin, N, K, alpha, op_at(A, lda, trans_a, begin, 0),
                   lda, B, ldb, beta, C + begin * ldc, ldc, epilogue_at(epilogue, ldc, begin, 0),
                   second_at(second, begin, 0));
    });
  else
    split(threads, N, NR, [&](int64_t begin, int64_t end) {
      gemm_blocked(trans_a, trans_b, M, end - begin, K, alpha, A, lda,
                   op_at(B, ldb, trans_b, 0, begin), ldb, beta, C + begin, ldc,
                   epilogue_at(epilogue, ldc, 0, begin), second_at(second, 0, begin));
    });
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, const GemmEpilogue<float>& epilogue,
           const GemmSecondProduct<float>& second) {
  calls.fetch_add(1, std::memory_order_relaxed);
  gemm<float, float>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue, second);
}

void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
           const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
           int64_t ldc, const GemmEpilogue<double>& epilogue,
           const GemmSecondProduct<double>& second) {
  calls.fetch_add(1, std::memory_order_relaxed);
  gemm<double, double>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue, second);
}

int64_t gemm_call_count() { return calls.load(std::memory_order_relaxed); }

namespace gemm_detail {

void count_gemm_call() { calls.fetch_add(1, std::memory_order_relaxed); }

void bf16_gemm_convert(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const bfloat16* A, int64_t lda, const bfloat16* B, int64_t ldb, float beta,
                       float* C, int64_t ldc, const GemmEpilogue<float>& epilogue,
                       const GemmSecondProduct<bfloat16>& second) {
  gemm<float, bfloat16>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue,
                        second);
}

}  // namespace gemm_detail

}  // namespace neat
