// The CPU's bf16 compute for fp32 convolutions (sev_set_fp32_precision(SEV_FP32_PRECISION_BF16)): the GEMMs of the
// GEMM-based convolutions — pointwise, temporal and im2col; forward, backward-data, backward-weight — take their fp32
// operands rounded to bf16 (round to nearest even) and accumulate the products in fp32 — what PyTorch's
// torch.backends.mkldnn.matmul.fp32_precision = "bf16" (oneDNN's fpmath mode) does on the same cores. Tensors stay
// fp32 in memory; only the GEMMs' packed copies are 16-bit. Two kernels, one layout:
// - AMX (Intel Xeon from Sapphire Rapids on): a tile product is 16 x 16 x 32 multiply-adds in one instruction, where
//   the fp32 GEMM's AVX-512 FMAs do 16 — about eight times the arithmetic per cycle.
// - AVX512-BF16 (AMD Zen 4 and 5, Intel Cooper Lake): VDPBF16PS adds two bf16 products into each fp32 lane, twice an
//   FMA's multiply-adds at the same width (measured on a Zen 5 core: 446 against 223 GFLOP/s), and the packed
//   operands are half the bytes.
// sev_bf16_kernel says which one runs (the best the CPU has; sev_set_bf16_kernel picks one, for tests and A/B).
//
// Layout. A (M x K, row-major: in a weight gradient the activations' time-shifted rows) is rounded once per K chunk
// into Abf [Mp][kcp] (M, K padded with zeros to multiples of 32): each A tile is 16 of its rows x 32 k, loaded with
// the row stride kcp. A convolution's weights are rounded once a call in the same layout (Bf16Weights, sgemm_bf16_pre)
// and read in place, their row stride K rounded up to 32. B (K x N: the activations, plain or time-shifted; or B^T of an N x K matrix,
// the weight gradients' dy) is rounded per column block into the tiles' pair-interleaved layout Bbf [kcp/2][NCp][2]:
// row p holds k = 2p and 2p + 1 of every column side by side, so a B tile is 16 rows (32 k) x 16 columns — and a
// 64-byte row of it is one VDPBF16PS operand (16 columns, a pair of k each), its A partner a broadcast 32-bit pair.
// On AMX a 32 x 32 block of C is four accumulator tiles (0..3) fed by two A tiles (4, 5) and two B tiles (6, 7) per
// 32 k; on AVX512-BF16 the same block is four panels of 8 rows x 32 columns in 16 zmm accumulators. K up to 2048
// is one chunk (C written once per block; less where A is tall: the rounded A chunk is capped at 2 MB); longer K (the
// weight gradients' spatial sums) in chunks of 512, C loaded into the accumulators and stored back per chunk.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <omp.h>

#include "internal.h"
#include "sev_bf16.h"
#include "sev_simd.h"
#include "sev_transpose.h"
#include "sevnet.h"

#if defined(__x86_64__) && defined(__linux__)  // GCC's AMX intrinsics are x86-64 only
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define SEV_HAVE_AMX 1  // and AVX512-BF16: the same intrinsics header, the same probe
#else
#define SEV_HAVE_AMX 0
#endif

namespace sev {
namespace {
std::atomic<int> g_fp32_precision{SEV_FP32_PRECISION_IEEE};

#if SEV_HAVE_AMX
#define SEV_TARGET_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16,avx512vl,avx2,fma")))

constexpr int64_t NCB = 256;  // columns of a converted B block: Kp/2 x 256 x 2 bf16 (<= 768 KB at K = 1536) in L2

struct TileConfig {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Per thread: the rounded operands, grown as needed (64-byte aligned: tile rows are 64 bytes)
struct Bf16Buffers {
  uint16_t* a = nullptr;
  uint16_t* b = nullptr;
  size_t acap = 0, bcap = 0;
  ~Bf16Buffers() {
    aligned_free(a);
    aligned_free(b);
  }
  static bool grow(uint16_t*& p, size_t& cap, size_t n) {
    if (cap >= n) return true;
    aligned_free(p);
    p = static_cast<uint16_t*>(aligned_bytes(n * sizeof(uint16_t)));
    cap = p ? n : 0;
    return p != nullptr;
  }
};
thread_local Bf16Buffers tl_bf16;

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Lanes l of a 16-wide load at column c whose column c + l lies in [lo, hi)
inline __mmask16 lanes(int64_t c, int64_t lo, int64_t hi) {
  const int64_t a = lo > c ? lo - c : 0, b = hi - c < 16 ? hi - c : 16;
  if (b <= a) return 0;
  return (__mmask16)(((1u << (b - a)) - 1u) << a);
}

// Row r of a plain or time-shifted operand (sh = {taps, step, off, lo, hi}, sgemm_serial_shifted's): its source
// pointer (element c at p[c]) and the columns [lo, hi) it has; elsewhere zeros
inline const float* op_row(const float* P, int64_t ld, const int64_t* sh, int64_t r, int64_t cols, int64_t& lo,
                           int64_t& hi) {
  if (!sh) {
    lo = 0;
    hi = cols;
    return P + r * ld;
  }
  const int64_t taps = sh[0], d = (r % taps) * sh[1] - sh[2];
  lo = sh[3] - d;
  hi = sh[4] - d;
  if (lo < 0) lo = 0;
  if (hi > cols) hi = cols;
  return P + (r / taps) * ld + d;
}

// A rows [0, M) x k [p0, p0 + kc) -> Abf [Mp][kcp] (k relative to p0), rounded to nearest even; zeros past M, K and a
// shifted row's ends
SEV_TARGET_BF16 void round_a(const float* A, int64_t lda, const int64_t* sa, int64_t M, int64_t K, int64_t p0,
                            int64_t kc, int64_t Mp, int64_t kcp, uint16_t* Abf) {
  for (int64_t r = 0; r < Mp; r++) {
    uint16_t* d = Abf + r * kcp;
    if (r >= M) {
      std::memset(d, 0, sizeof(uint16_t) * (size_t)kcp);
      continue;
    }
    int64_t lo, hi;
    const float* a = op_row(A, lda, sa, r, K, lo, hi);
    if (hi > p0 + kc) hi = p0 + kc;
    for (int64_t k = 0; k < kcp; k += 32) {
      const int64_t c = p0 + k;
      const __m512 l = _mm512_maskz_loadu_ps(lanes(c, lo, hi), a + c);
      const __m512 h = _mm512_maskz_loadu_ps(lanes(c + 16, lo, hi), a + c + 16);
      _mm512_storeu_si512(d + k, (__m512i)_mm512_cvtne2ps_pbh(h, l));  // [l0..l15, h0..h15]
    }
  }
}

constexpr int64_t PF_ROWS = 8;

// B rows k [p0, p0 + kc) x columns [j0, j0 + nc) -> Bbf [kcp/2][ncp][2] (k relative to p0): row k of B is
// op_row(B, k); zeros past K, N and a shifted row's ends
SEV_TARGET_BF16 void round_b(const float* B, int64_t ldb, const int64_t* sb, int64_t K, int64_t N, int64_t p0,
                            int64_t kc, int64_t j0, int64_t nc, int64_t kcp, int64_t ncp, uint16_t* Bbf) {
  const int64_t jend = j0 + nc < N ? j0 + nc : N;
  for (int64_t k = 0; k < kcp; k += 2) {
    const float* row[2] = {nullptr, nullptr};
    int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
    for (int u = 0; u < 2; u++) {
      const int64_t r = p0 + k + u;
      if (k + u >= kc || r >= K) continue;
      row[u] = op_row(B, ldb, sb, r, N, lo[u], hi[u]);
      if (lo[u] < j0) lo[u] = j0;
      if (hi[u] > jend) hi[u] = jend;
    }
    // the row pair PF_ROWS on, ahead: each row is a short run (the block's 1 KB of a long row) that the hardware
    // prefetchers do not pick up before it ends (on a Zen 5 core this pass waited on those loads for ~40% of the GEMM)
    for (int u = 0; u < 2; u++) {
      const int64_t r = p0 + k + PF_ROWS + u;
      if (k + PF_ROWS + u >= kc || r >= K) continue;
      int64_t plo, phi;
      const float* pr = op_row(B, ldb, sb, r, N, plo, phi);
      if (plo < j0) plo = j0;
      if (phi > jend) phi = jend;
      for (int64_t c = plo; c < phi; c += 16) _mm_prefetch((const char*)(pr + c), _MM_HINT_T0);
    }
    uint16_t* d = Bbf + (k / 2) * ncp * 2;
    for (int64_t c = 0; c < ncp; c += 16) {
      const int64_t col = j0 + c;
      const __m512 v0 = row[0] ? _mm512_maskz_loadu_ps(lanes(col, lo[0], hi[0]), row[0] + col) : _mm512_setzero_ps();
      const __m512 v1 = row[1] ? _mm512_maskz_loadu_ps(lanes(col, lo[1], hi[1]), row[1] + col) : _mm512_setzero_ps();
      _mm512_storeu_si512(d + c * 2, bf16_pairs(v0, v1));  // [c0 k, c0 k+1, c1 k, c1 k+1, ...]
    }
  }
}

// The transposed operand: B stored [N][K] (ldb), op(B) = B^T. Its rows n [j0, j0 + nc) x k [p0, p0 + kc) ->
// Bbf [kcp/2][ncp][2]: a bf16 pair (k, k+1) of one stored row is one 32-bit element, so 16 rows x 32 k rounded to
// bf16 are 16 x 16 such elements, and their transpose is 16 rows of the tiles' layout
SEV_TARGET_BF16 void round_bt(const float* B, int64_t ldb, int64_t K, int64_t N, int64_t p0, int64_t kc, int64_t j0,
                             int64_t nc, int64_t kcp, int64_t ncp, uint16_t* Bbf) {
  const int64_t kend = p0 + kc < K ? p0 + kc : K;
  for (int64_t c = 0; c < ncp; c += 16) {
    for (int64_t k = 0; k < kcp; k += 32) {
      __m512 v[16];  // 32-bit elements (bf16 pairs) moved as floats: the transpose only moves bits
      for (int i = 0; i < 16; i++) {
        const int64_t n = j0 + c + i;
        if (c + i >= nc || n >= N) {
          v[i] = _mm512_setzero_ps();
          continue;
        }
        const float* b = B + n * ldb;
        const __m512 l = _mm512_maskz_loadu_ps(lanes(p0 + k, p0, kend), b + p0 + k);
        const __m512 h = _mm512_maskz_loadu_ps(lanes(p0 + k + 16, p0, kend), b + p0 + k + 16);
        v[i] = _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(h, l));  // 16 pairs (k, k+1) of row n
      }
      transpose16x16(v);  // v[q]: pair q of the 16 rows
      for (int q = 0; q < 16; q++) _mm512_storeu_ps(Bbf + (k / 2 + q) * ncp * 2 + c * 2, v[q]);
    }
  }
}

// The tile intrinsics are asm statements that name only their base address, not the memory behind it: a compiler
// barrier before each group of them keeps the plain stores they read (the config, the rounded operands, a C block)
// ahead of them whatever the compiler's scheduling
#define SEV_MEMORY_BARRIER() asm volatile("" ::: "memory")

SEV_TARGET_AMX void load_tile_config() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 8; t++) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  SEV_MEMORY_BARRIER();
  _tile_loadconfig(&cfg);
}

// C block rows [0, 32) x columns [0, 32) at C (its [mr x nr] valid part) += Abf (32 rows from here, ars apart) x Bbf
// (column jr) over kcp; the accumulators start from zero (fresh) or from C
SEV_TARGET_AMX void block32(const uint16_t* Abf, int64_t ars, int64_t kcp, const uint16_t* Bbf, int64_t ncp, int64_t jr,
                            int mr, int nr, bool fresh, float* C, int64_t ldc) {
  const bool full = mr == 32 && nr == 32;
  alignas(64) float acc[32][32];
  SEV_MEMORY_BARRIER();  // the rounded operands (and C) written before
  if (fresh) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  } else if (full) {
    _tile_loadd(0, C, ldc * 4);
    _tile_loadd(1, C + 16, ldc * 4);
    _tile_loadd(2, C + 16 * ldc, ldc * 4);
    _tile_loadd(3, C + 16 * ldc + 16, ldc * 4);
  } else {
    for (int i = 0; i < 32; i++)
      for (int j = 0; j < 32; j++) acc[i][j] = i < mr && j < nr ? C[i * ldc + j] : 0.f;
    SEV_MEMORY_BARRIER();
    _tile_loadd(0, &acc[0][0], 128);
    _tile_loadd(1, &acc[0][16], 128);
    _tile_loadd(2, &acc[16][0], 128);
    _tile_loadd(3, &acc[16][16], 128);
  }
  const int64_t astride = ars * 2, bstride = ncp * 4;  // bytes
  for (int64_t k = 0; k < kcp; k += 32) {
    const uint16_t* b = Bbf + (k / 2) * ncp * 2 + jr * 2;
    _tile_loadd(4, Abf + k, astride);
    _tile_loadd(5, Abf + 16 * ars + k, astride);
    _tile_loadd(6, b, bstride);
    _tile_loadd(7, b + 32, bstride);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  if (full) {
    _tile_stored(0, C, ldc * 4);
    _tile_stored(1, C + 16, ldc * 4);
    _tile_stored(2, C + 16 * ldc, ldc * 4);
    _tile_stored(3, C + 16 * ldc + 16, ldc * 4);
    return;
  }
  _tile_stored(0, &acc[0][0], 128);
  _tile_stored(1, &acc[0][16], 128);
  _tile_stored(2, &acc[16][0], 128);
  _tile_stored(3, &acc[16][16], 128);
  SEV_MEMORY_BARRIER();  // the stores above before the reads below
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) C[i * ldc + j] = acc[i][j];
}

// The AVX512-BF16 kernel's 32 x 32 block: what block32 computes, as four panels of 8 rows x 32 columns (16
// accumulators, two B vectors and a broadcast per pair of k: 10 loads for 16 VDPBF16PS, which the two load ports
// keep ahead of the two bf16 pipes). Rows past M are Abf's zero padding: computed, not stored.
SEV_TARGET_BF16 void panel8_dp(const uint16_t* Abf, int64_t ars, int64_t kcp, const uint16_t* Bbf, int64_t ncp,
                               int64_t jr, int mr, int nr, bool fresh, float* C, int64_t ldc) {
  const __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1u);
  const __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1u) : (__mmask16)0;
  __m512 acc[8][2];
  for (int r = 0; r < 8; r++) {
    const bool load = !fresh && r < mr;
    acc[r][0] = load ? _mm512_maskz_loadu_ps(m0, C + r * ldc) : _mm512_setzero_ps();
    acc[r][1] = load ? _mm512_maskz_loadu_ps(m1, C + r * ldc + 16) : _mm512_setzero_ps();
  }
  const uint16_t* b = Bbf + jr * 2;
  const int64_t bstep = ncp * 2;
  for (int64_t k = 0; k < kcp; k += 2, b += bstep) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32);
    for (int r = 0; r < 8; r++) {
      int32_t pair;
      std::memcpy(&pair, Abf + r * ars + k, sizeof pair);  // A[r][k], A[r][k + 1]
      const __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
    }
  }
  for (int r = 0; r < mr && r < 8; r++) {
    _mm512_mask_storeu_ps(C + r * ldc, m0, acc[r][0]);
    _mm512_mask_storeu_ps(C + r * ldc + 16, m1, acc[r][1]);
  }
}

SEV_TARGET_BF16 void block32_dp(const uint16_t* Abf, int64_t ars, int64_t kcp, const uint16_t* Bbf, int64_t ncp,
                                int64_t jr, int mr, int nr, bool fresh, float* C, int64_t ldc) {
  for (int i = 0; i < mr; i += 8)
    panel8_dp(Abf + i * ars, ars, kcp, Bbf, ncp, jr, mr - i, nr, fresh, C + i * ldc, ldc);
}

SEV_TARGET_AMX void release_tiles() { _tile_release(); }

// The two kernels behind one driver: begin/end bracket a call (AMX: the tile configuration, and its release — the tile
// state is large: not kept across calls, context switches, other code on the thread)
struct AmxKernel {
  static void begin() { load_tile_config(); }
  static void block(const uint16_t* Abf, int64_t ars, int64_t kcp, const uint16_t* Bbf, int64_t ncp, int64_t jr,
                    int mr, int nr, bool fresh, float* C, int64_t ldc) {
    block32(Abf, ars, kcp, Bbf, ncp, jr, mr, nr, fresh, C, ldc);
  }
  static void end() { release_tiles(); }
};
struct Avx512Bf16Kernel {
  static void begin() {}
  static void block(const uint16_t* Abf, int64_t ars, int64_t kcp, const uint16_t* Bbf, int64_t ncp, int64_t jr,
                    int mr, int nr, bool fresh, float* C, int64_t ldc) {
    block32_dp(Abf, ars, kcp, Bbf, ncp, jr, mr, nr, fresh, C, ldc);
  }
  static void end() {}
};

// K in chunks — one up to KC_ONE, else KC_CHUNK, both capped so that the rounded A chunk (Mp x kc bf16) stays within
// A_CHUNK_MAX elements (2 MB: a thread's buffer, kept for its life) —; C accumulates across them. A rounded before the
// call (Apre, row stride ldpre: Bf16Weights) is read in place: no cap, no rounding.
constexpr int64_t KC_ONE = 2048, KC_CHUNK = 512, A_CHUNK_MAX = (int64_t)1 << 20;

template <class Kernel>
bool gemm_bf16_run(bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const int64_t* sa,
                   const uint16_t* Apre, int64_t ldpre, const float* B, int64_t ldb, const int64_t* sb, float beta,
                   float* C, int64_t ldc, const GemmBlockHook* after) {
  const int64_t Mp = round_up(M, 32);
  int64_t kmax = Apre ? KC_ONE : A_CHUNK_MAX / Mp / 32 * 32;
  if (kmax > KC_ONE) kmax = KC_ONE;
  if (kmax < 64) kmax = 64;
  const int64_t kcb = K <= kmax ? round_up(K, 32) : (kmax < KC_CHUNK ? kmax : KC_CHUNK);
  const int64_t ncmax = round_up(N < NCB ? N : NCB, 32);
  Bf16Buffers& buf = tl_bf16;
  if ((!Apre && !Bf16Buffers::grow(buf.a, buf.acap, (size_t)(Mp * kcb))) ||
      !Bf16Buffers::grow(buf.b, buf.bcap, (size_t)(kcb * ncmax)))
    return false;
  // beta other than 0 and 1: C scaled first, then accumulated into like beta = 1
  if (beta != 0.f && beta != 1.f)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] *= beta;
  Kernel::begin();
  for (int64_t pc = 0; pc < K; pc += kcb) {
    const int64_t kc = K - pc < kcb ? K - pc : kcb, kcp = round_up(kc, 32);
    const bool fresh = pc == 0 && beta == 0.f, last = pc + kc >= K;
    const uint16_t* Abf = Apre ? Apre + pc : buf.a;
    const int64_t ars = Apre ? ldpre : kcp;
    if (!Apre) round_a(A, lda, sa, M, K, pc, kc, Mp, kcp, buf.a);
    for (int64_t jc = 0; jc < N; jc += NCB) {
      const int64_t nc = N - jc < NCB ? N - jc : NCB, ncp = round_up(nc, 32);
      if (tB)
        round_bt(B, ldb, K, N, pc, kc, jc, nc, kcp, ncp, buf.b);
      else
        round_b(B, ldb, sb, K, N, pc, kc, jc, nc, kcp, ncp, buf.b);
      for (int64_t ic = 0; ic < M; ic += 32) {
        const int mr = (int)(M - ic < 32 ? M - ic : 32);
        for (int64_t jr = 0; jr < nc; jr += 32) {
          const int nr = (int)(nc - jr < 32 ? nc - jr : 32);
          Kernel::block(Abf + ic * ars, ars, kcp, buf.b, ncp, jr, mr, nr, fresh, C + ic * ldc + jc + jr, ldc);
        }
      }
      if (last && after) after->fn(after->ctx, jc, nc);
    }
  }
  Kernel::end();
  return true;
}

// The kernel sgemm_bf16 runs: what every entry point dispatches on
template <class... Args>
bool gemm_bf16_dispatch(Args... args) {
  switch (bf16_kernel()) {
    case SEV_BF16_KERNEL_AMX:
      return gemm_bf16_run<AmxKernel>(args...);
    case SEV_BF16_KERNEL_AVX512:
      return gemm_bf16_run<Avx512Bf16Kernel>(args...);
    default:
      return false;
  }
}

// a[0, K) -> d[0, ld), rounded to nearest even, zeros past K
SEV_TARGET_BF16 void round_row(const float* a, int64_t K, uint16_t* d, int64_t ld) {
  for (int64_t k = 0; k < ld; k += 32) {
    const __m512 l = _mm512_maskz_loadu_ps(lanes(k, 0, K), a + k);
    const __m512 h = _mm512_maskz_loadu_ps(lanes(k + 16, 0, K), a + k + 16);
    _mm512_storeu_si512(d + k, (__m512i)_mm512_cvtne2ps_pbh(h, l));
  }
}

// The CPU has AMX-BF16 (and the AVX-512 BF16 conversions) and the OS lets this process use the tile data (Linux
// asks for it per process: arch_prctl ARCH_REQ_XCOMP_PERM); not with the ISA capped below AVX-512 (SEV_ISA)
bool probe_amx() {
  if (cpu_isa() < 2) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_tile = (d >> 24) & 1, amx_bf16 = (d >> 22) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
  if (!amx_tile || !amx_bf16 || !avx512bw || !avx512vl || a < 1) return false;  // a: the highest subleaf of leaf 7
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 5) & 1)) return false;  // AVX512_BF16
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// AVX512-BF16 with AVX512BW and VL (the conversions, the kernel); not with the ISA capped below AVX-512
bool probe_avx512_bf16() {
  if (cpu_isa() < 2) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!((b >> 30) & 1) || !((b >> 31) & 1) || a < 1) return false;
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 5) & 1);
}
#endif

// SEV_BF16_KERNEL_AUTO, or the kernel sev_set_bf16_kernel chose
std::atomic<int> g_bf16_kernel{SEV_BF16_KERNEL_AUTO};
}  // namespace

bool amx_bf16_usable() {
#if SEV_HAVE_AMX
  static const bool ok = probe_amx();
  return ok;
#else
  return false;
#endif
}

bool bf16_kernel_usable(int kernel) {
#if SEV_HAVE_AMX
  static const bool avx512 = probe_avx512_bf16();
  if (kernel == SEV_BF16_KERNEL_AVX512) return avx512;
  if (kernel == SEV_BF16_KERNEL_AMX) return amx_bf16_usable();
#endif
  return kernel == SEV_BF16_KERNEL_NONE;
}

int bf16_kernel() {
  const int k = g_bf16_kernel.load(std::memory_order_relaxed);
  if (k != SEV_BF16_KERNEL_AUTO) return k;
  if (bf16_kernel_usable(SEV_BF16_KERNEL_AMX)) return SEV_BF16_KERNEL_AMX;
  return bf16_kernel_usable(SEV_BF16_KERNEL_AVX512) ? SEV_BF16_KERNEL_AVX512 : SEV_BF16_KERNEL_NONE;
}

bool bf16_gemm_active() {
  return g_fp32_precision.load(std::memory_order_relaxed) == SEV_FP32_PRECISION_BF16 &&
         bf16_kernel() != SEV_BF16_KERNEL_NONE;
}

namespace {
// p: rows [0, M) of K, ld apart, then 32 rows of zeros; gather(r, row) writes row r's K floats into row
template <class Gather>
uint16_t* rounded_rows(int64_t M, int64_t K, int64_t ld, Gather gather) {
#if SEV_HAVE_AMX
  uint16_t* p = static_cast<uint16_t*>(aligned_bytes(sizeof(uint16_t) * (size_t)((M + 32) * ld)));
  if (!p) return nullptr;
  std::memset(p + M * ld, 0, sizeof(uint16_t) * (size_t)(32 * ld));
  // a weight matrix is up to ~1M elements (512 x 1536): worth both cores
  const bool par = M * ld >= ((int64_t)1 << 16);
#pragma omp parallel if (par)
  {
    std::vector<float> row((size_t)ld);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < M; r++) round_row(gather(r, row.data()), K, p + r * ld, ld);
  }
  return p;
#else
  (void)M, (void)K, (void)ld, (void)gather;
  return nullptr;
#endif
}
}  // namespace

Bf16Weights::Bf16Weights(const float* A, int64_t M, int64_t K, int64_t lda) {
  if (!A || !bf16_gemm_active() || M <= 0 || K <= 0) return;
  ld = (K + 31) / 32 * 32;
  p = rounded_rows(M, K, ld, [&](int64_t r, float*) { return A + r * lda; });
}

Bf16Weights::Bf16Weights(const float* w, const Transposed& t) {
  const int64_t M = t.groups * t.rows, K = t.cog * t.kT;
  if (!w || !bf16_gemm_active() || M <= 0 || K <= 0) return;
  ld = (K + 31) / 32 * 32;
  p = rounded_rows(M, K, ld, [&](int64_t R, float* row) {
    const int64_t g = R / t.rows, r = R % t.rows;
    for (int64_t co = 0; co < t.cog; co++)
      for (int kt = 0; kt < t.kT; kt++) row[co * t.kT + kt] = w[((g * t.cog + co) * t.rows + r) * t.kT + kt];
    return (const float*)row;
  });
}

Bf16Weights::~Bf16Weights() { aligned_free(p); }

// Only with the AVX512-BF16 kernel: Zen 5 runs VDPBF16PS at twice the fp32 FMA's multiply-adds (measured); the
// instruction tables list Intel's server cores with it on one port, the FMA's rate, where the pairing would be pure
// overhead — on AMX CPUs the direct convs stay fp32 (not measured there; -Dsevnet.bf16Kernel=avx512 runs them in bf16)
bool bf16_direct_active() { return bf16_gemm_active() && bf16_kernel() == SEV_BF16_KERNEL_AVX512; }

bool sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                const int64_t* sb, float beta, float* C, int64_t ldc, const GemmBlockHook* after) {
  return sgemm_bf16_ex(false, M, N, K, A, lda, nullptr, B, ldb, sb, beta, C, ldc, after);
}

bool sgemm_bf16_ex(bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const int64_t* sa,
                   const float* B, int64_t ldb, const int64_t* sb, float beta, float* C, int64_t ldc,
                   const GemmBlockHook* after) {
#if SEV_HAVE_AMX
  if (M <= 0 || N <= 0 || K <= 0 || (tB && sb)) return false;
  return gemm_bf16_dispatch(tB, M, N, K, A, lda, sa, (const uint16_t*)nullptr, (int64_t)0, B, ldb, sb, beta, C, ldc,
                            after);
#else
  (void)tB, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)sa, (void)B, (void)ldb, (void)sb, (void)beta,
      (void)C, (void)ldc, (void)after;
  return false;
#endif
}

bool sgemm_bf16_pre(int64_t M, int64_t N, int64_t K, const Bf16Weights& a, int64_t r0, const float* B, int64_t ldb,
                    const int64_t* sb, float beta, float* C, int64_t ldc, const GemmBlockHook* after) {
#if SEV_HAVE_AMX
  if (M <= 0 || N <= 0 || K <= 0 || !a.ok() || round_up(K, 32) > a.ld) return false;
  return gemm_bf16_dispatch(false, M, N, K, (const float*)nullptr, (int64_t)0, (const int64_t*)nullptr,
                            (const uint16_t*)(a.p + r0 * a.ld), a.ld, B, ldb, sb, beta, C, ldc, after);
#else
  (void)M, (void)N, (void)K, (void)a, (void)r0, (void)B, (void)ldb, (void)sb, (void)beta, (void)C, (void)ldc,
      (void)after;
  return false;
#endif
}
}  // namespace sev

extern "C" {

int sev_set_fp32_precision(int precision) {
  if (precision != SEV_FP32_PRECISION_IEEE && precision != SEV_FP32_PRECISION_BF16)
    return sev::fail(SEV_EINVAL, "fp32 precision must be SEV_FP32_PRECISION_IEEE (0) or SEV_FP32_PRECISION_BF16 (1)");
  sev::g_fp32_precision.store(precision);
  return SEV_OK;
}

int sev_get_fp32_precision(void) { return sev::g_fp32_precision.load(); }

int sev_amx_bf16_available(void) { return sev::amx_bf16_usable() ? 1 : 0; }

int sev_bf16_kernel(void) { return sev::bf16_kernel(); }

int sev_bf16_kernel_available(int kernel) { return sev::bf16_kernel_usable(kernel) ? 1 : 0; }

int sev_set_bf16_kernel(int kernel) {
  if (kernel != SEV_BF16_KERNEL_AUTO && kernel != SEV_BF16_KERNEL_NONE && kernel != SEV_BF16_KERNEL_AVX512 &&
      kernel != SEV_BF16_KERNEL_AMX)
    return sev::fail(SEV_EINVAL, "bf16 kernel must be SEV_BF16_KERNEL_AUTO (-1), _NONE (0), _AVX512 (1) or _AMX (2)");
  if (kernel != SEV_BF16_KERNEL_AUTO && !sev::bf16_kernel_usable(kernel))
    return sev::fail(SEV_EUNSUPPORTED, kernel == SEV_BF16_KERNEL_AMX
                                           ? "no AMX-BF16 on this CPU (or the ISA is capped, or the OS refused it)"
                                           : "no AVX512-BF16 on this CPU (or the ISA is capped below AVX-512)");
  sev::g_bf16_kernel.store(kernel);
  return SEV_OK;
}

int sev_sgemm_bf16(int transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float beta, float* C, int64_t ldc) {
  SEV_CALL_SCOPE();
  if (M < 0 || N < 0 || K < 0 || lda < K || ldb < (transB ? K : N) || ldc < N)
    return sev::fail(SEV_EINVAL, "sev_sgemm_bf16: bad sizes or leading dimensions");
  if (M == 0 || N == 0) return SEV_OK;
  if (sev::bf16_kernel() == SEV_BF16_KERNEL_NONE)
    return sev::fail(SEV_EUNSUPPORTED, "sev_sgemm_bf16: no bf16 kernel (AMX-BF16 or AVX512-BF16) on this CPU");
  if (K == 0) {
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return SEV_OK;
  }
  if (!sev::sgemm_bf16_ex(transB != 0, M, N, K, A, lda, nullptr, B, ldb, nullptr, beta, C, ldc))
    return sev::fail(SEV_ENOMEM, "sev_sgemm_bf16: work buffers could not be allocated");
  return SEV_OK;
}

}  // extern "C"
