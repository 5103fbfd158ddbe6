// Temporal 3x1x1 convolution (C -> C, padding 1 in time, no bias) in channels-last layout on tensor cores
// (kernels/temporal_conv_ndhwc_tc.cu): forward with the folded model's epilogue (bias, residual, ReLU in the store)
// and backward-data; fp32 storage through TF32, bf16 and fp16 through their own MMA; sums in fp32.
//
// Why: in NDHWC this conv is one GEMM over positions with K = 3C, a tap being a row one frame away. cuBLAS runs it
// as three GEMMs that each read x and read+write y, then a separate epilogue pass reads y and the residual and writes
// y again: eleven passes over an activation (0.24 ms at [8,64,16,56,56] fp32 on an H100). Here x is read once from
// DRAM (its three taps are neighbouring frames, so the second and third reads hit L2), y written once, the residual
// read once: four. The CUDA-core kernel of temporal_conv_ndhwc.cuh moves as little but computes at 14 TFLOP/s; this
// one gives the products to the tensor cores (WMMA 16x16 fragments).
//
// The weight is read as the backend keeps it, KTRSC [C][3][C] (W[co*3C + k*C + ci], tap k reads frame t + k - 1), so
// no per-call reorder. Over the positions j = t*S + s of one item (rows of C contiguous channels):
//   forward        y[j, m]  = sum_r A[j, r] B[r, m],  A[j, k*C+c] = x[j + (k-1)S, c],   B[k*C+c, m] = W[m*3C + k*C + c]
//   backward-data  dx[j, m] = sum_r A[j, r] B[r, m],  A[j, k*C+c] = dy[j - (k-1)S, c],  B[k*C+c, m] = W[c*3C + k*C + m]
// A shifted row outside [0, T*S) is a frame outside [0, T): the zero padding. The forward's B is contiguous along r,
// so it is staged column-major ([m][r]); backward-data's along m, staged row-major ([r][m]) — both with 16-byte loads.
//
// A block computes TT_BM positions x TT_BN channels with four warps (2 x 2, 32 x 32 each: 2 x 2 fragments), the
// reduction over r in TT_BK slices, double-buffered: the next slice is copied into shared memory (cp.async, 16 bytes a
// slot) while the tensor cores work on this one. What the device and the host share is here: the tile geometry, the
// loads of one 16-byte slot (zeros for padding and ragged edges), and the epilogue of one slot from the accumulator
// tile. Only the fragment MMA differs:
// WMMA in the kernel, plain loops in the host driver (native/src/kernels_hostrun.cpp, tt_host), which rounds fp32 to
// TF32 the way the kernel does (round to nearest, ties away: cvt.rna.tf32.f32).
#pragma once
#include <stdint.h>
#include <string.h>

#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"

#define TT_BM 64       // positions per block
#define TT_BN 64       // output channels per block
#define TT_BK 32       // reduction slice (taps x channels)
#define TT_THREADS 128 // four warps

// Shared-memory geometry of storage S (elements). Leading dimensions are padded so that every fragment's base stays
// 32-byte aligned (WMMA's rule), every 16-byte slot store is aligned, and the fragment loads of a warp hit 32
// distinct banks: a tile read along its rows (row-major A, column-major B: lanes (g, t) read element g*ld + t) wants
// ld = 4 mod 32 words — one 16-byte slot of padding in fp32 (36), and in 16 bits (40 halves = 20 words) the rows of
// ldmatrix land in distinct 16-byte bank groups; a tile read across its rows (row-major B, lanes read t*ld + g) wants
// ld = 8 mod 32 words: 72 in fp32 (64 + 8), 72 halves in 16 bits.
template <class S>
struct TtGeom {
  static constexpr int V = 16 / (int)sizeof(S);   // elements per slot
  static constexpr int LDA = TT_BK + V;             // A: [TT_BM][LDA], row-major
  static constexpr int LDB_COL = TT_BK + V;         // forward's B: [TT_BN][LDB_COL] (column-major)
  static constexpr int LDB_ROW = TT_BN + 8;         // backward-data's B: [TT_BK][LDB_ROW] (row-major)
  static constexpr int LDC = TT_BN + 4;             // the fp32 accumulator tile: [TT_BM][LDC]
  static constexpr int B_ELEMS = TT_BN * LDB_COL > TT_BK * LDB_ROW ? TT_BN * LDB_COL : TT_BK * LDB_ROW;
  static constexpr int STAGE_ELEMS = TT_BM * LDA + B_ELEMS;  // one slice's A then B; the kernel keeps two
  static constexpr int AB_BYTES = 2 * STAGE_ELEMS * (int)sizeof(S);
  static constexpr int C_BYTES = TT_BM * LDC * 4;
  static constexpr int SMEM_BYTES = AB_BYTES > C_BYTES ? AB_BYTES : C_BYTES;  // C reuses A and B after the loop
  static constexpr int A_SLOTS = TT_BM * TT_BK / V;
  static constexpr int B_SLOTS = TT_BN * TT_BK / V;
  static constexpr int OUT_SLOTS = TT_BM * TT_BN / V;
};

// The epilogue of the forward: y = act((conv + bias) + residual), as the grouped conv's (GclEpilogue)
struct TtEpilogue {
  const float* bias;     // [C] fp32, or NULL
  const void* residual;  // y's storage type and layout, or NULL
  int relu;
};

// The problem. vec: every slot may be one 16-byte access — C a multiple of the slot's V elements (so a slot never
// straddles a tap or a row) and every pointer 16-byte aligned (a view at an odd offset takes the element path).
struct TtDims {
  int C;
  int64_t S, TS;  // positions per frame, per item
  bool vec;
};

inline bool tt_aligned16(const void* p) { return ((uintptr_t)p & 15u) == 0; }

// TtDims of a call in storage of es bytes per element
inline TtDims tt_dims(int C, int T, int64_t S, int es, const void* src, const void* w, const void* dst,
                      const void* residual) {
  const bool vec = C % (16 / es) == 0 && tt_aligned16(src) && tt_aligned16(w) && tt_aligned16(dst) &&
                   tt_aligned16(residual);
  return TtDims{C, S, (int64_t)T * S, vec};
}

// ---- loads: a slot is 16 bytes of a tile. Where d.vec holds, its source is one aligned 16-byte run (tt_*_src: NULL
// for padding and ragged edges, which are zeros) that the kernel copies with cp.async straight into shared memory at
// tt_*_offset; elsewhere it is gathered element by element into registers (tt_fetch_*) and stored (tt_put_*). The
// host driver takes the fetch/put path always — the fetch's vec branch is the same *_src function, so the addresses
// the kernel's copies use are the ones the host tests check.

// d.vec: the 16 bytes at A[j, r..r+V) of item n (V channels of one tap of the shifted row), or NULL for zeros
template <class S>
SEV_HD const S* tt_row_src(const S* src, const TtDims& d, int n, int64_t j, int r, bool trans) {
  const int C = d.C;
  if (j >= d.TS || r >= 3 * C) return nullptr;
  const int k = r / C, c = r - k * C;
  const int64_t sj = trans ? j - (k - 1) * d.S : j + (k - 1) * d.S;
  return sj >= 0 && sj < d.TS ? src + ((int64_t)n * d.TS + sj) * C + c : nullptr;
}

template <class S>
SEV_HD SevVec16<S> tt_zeros() {
  SevVec16<S> v;
  for (int q = 0; q < TtGeom<S>::V; q++) v.e[q] = S(0);
  return v;
}
template <class S>
SEV_HD SevVec16<S> tt_load_or_zeros(const S* p) {
  return p ? sev_load16(p) : tt_zeros<S>();
}

// V consecutive reduction indices r.. of the (shifted) row j of item n: A[j, r..]; zeros outside
template <class St>
SEV_HD SevVec16<typename St::storage> tt_fetch_row(const typename St::storage* src, const TtDims& d, int n, int64_t j,
                                                int r, bool trans) {
  typedef typename St::storage S;
  constexpr int V = TtGeom<S>::V;
  if (d.vec) return tt_load_or_zeros(tt_row_src(src, d, n, j, r, trans));
  SevVec16<S> v = tt_zeros<S>();
  if (j >= d.TS) return v;
  const int C = d.C;
  for (int q = 0; q < V && r + q < 3 * C; q++) {
    const int k = (r + q) / C, c = r + q - k * C;
    const int64_t sj = trans ? j - (k - 1) * d.S : j + (k - 1) * d.S;
    if (sj >= 0 && sj < d.TS) v.e[q] = src[((int64_t)n * d.TS + sj) * C + c];
  }
  return v;
}

// A slot: row i = slot / (TT_BK/V) of the tile, V reduction indices from r = r0 + (slot % (TT_BK/V)) * V
template <class S>
SEV_HD int tt_a_offset(int slot) {
  constexpr int V = TtGeom<S>::V;
  return (slot / (TT_BK / V)) * TtGeom<S>::LDA + (slot % (TT_BK / V)) * V;
}
template <class St>
SEV_HD const typename St::storage* tt_a_src(const typename St::storage* src, const TtDims& d, int n, int64_t j0,
                                            int r0, int slot, bool trans) {
  constexpr int V = TtGeom<typename St::storage>::V;
  return tt_row_src(src, d, n, j0 + slot / (TT_BK / V), r0 + (slot % (TT_BK / V)) * V, trans);
}
template <class St>
SEV_HD SevVec16<typename St::storage> tt_fetch_a(const typename St::storage* src, const TtDims& d, int n, int64_t j0,
                                              int r0, int slot, bool trans) {
  constexpr int V = TtGeom<typename St::storage>::V;
  return tt_fetch_row<St>(src, d, n, j0 + slot / (TT_BK / V), r0 + (slot % (TT_BK / V)) * V, trans);
}
template <class S>
SEV_HD void tt_put_a(S* As, int slot, const SevVec16<S>& v) {
  sev_store16(As + tt_a_offset<S>(slot), v);
}

// B slot. Forward (column-major tile [m][r]): channel m = m0 + slot / (TT_BK/V), V reductions along r, contiguous in
// W. Backward-data (row-major [r][m]): reduction r = r0 + slot / (TT_BN/V), V channels along m, contiguous in W.
template <class S>
SEV_HD int tt_b_offset(int slot, bool trans) {
  constexpr int V = TtGeom<S>::V;
  return trans ? (slot / (TT_BN / V)) * TtGeom<S>::LDB_ROW + (slot % (TT_BN / V)) * V
               : (slot / (TT_BK / V)) * TtGeom<S>::LDB_COL + (slot % (TT_BK / V)) * V;
}
// d.vec: the slot's 16 bytes of W, or NULL for zeros
template <class St>
SEV_HD const typename St::storage* tt_b_src(const typename St::storage* w, const TtDims& d, int m0, int r0, int slot,
                                            bool trans) {
  constexpr int V = TtGeom<typename St::storage>::V;
  const int C = d.C;
  if (!trans) {
    const int m = m0 + slot / (TT_BK / V), r = r0 + (slot % (TT_BK / V)) * V;
    return m < C && r < 3 * C ? w + (int64_t)m * 3 * C + r : nullptr;
  }
  const int r = r0 + slot / (TT_BN / V), m = m0 + (slot % (TT_BN / V)) * V;
  if (r >= 3 * C || m >= C) return nullptr;
  const int k = r / C, c = r - k * C;
  return w + (int64_t)c * 3 * C + (int64_t)k * C + m;
}
template <class St>
SEV_HD SevVec16<typename St::storage> tt_fetch_b(const typename St::storage* w, const TtDims& d, int m0, int r0, int slot,
                                              bool trans) {
  typedef typename St::storage S;
  constexpr int V = TtGeom<S>::V;
  if (d.vec) return tt_load_or_zeros(tt_b_src<St>(w, d, m0, r0, slot, trans));
  const int C = d.C;
  SevVec16<S> v = tt_zeros<S>();
  if (!trans) {
    const int m = m0 + slot / (TT_BK / V), r = r0 + (slot % (TT_BK / V)) * V;
    if (m >= C) return v;
    const S* row = w + (int64_t)m * 3 * C;
    for (int q = 0; q < V && r + q < 3 * C; q++) v.e[q] = row[r + q];
    return v;
  }
  const int r = r0 + slot / (TT_BN / V), m = m0 + (slot % (TT_BN / V)) * V;
  if (r >= 3 * C) return v;
  const int k = r / C, c = r - k * C;
  const S* row = w + (int64_t)c * 3 * C + (int64_t)k * C;
  for (int q = 0; q < V && m + q < C; q++) v.e[q] = row[m + q];
  return v;
}
template <class S>
SEV_HD void tt_put_b(S* Bs, int slot, const SevVec16<S>& v, bool trans) {
  sev_store16(Bs + tt_b_offset<S>(slot, trans), v);
}

// ---- the store: V channels of one position from the fp32 tile Cs, through the epilogue, rounded once ----
template <class St>
SEV_HD void tt_store_slot(typename St::storage* dst, const float* Cs, int slot, const TtDims& d, int n, int64_t j0,
                          int m0, const TtEpilogue& e) {
  typedef typename St::storage S;
  constexpr int V = TtGeom<S>::V;
  const int i = slot / (TT_BN / V), mm = (slot % (TT_BN / V)) * V;
  const int64_t j = j0 + i;
  const int m = m0 + mm, C = d.C;
  if (j >= d.TS || m >= C) return;
  const int64_t at = ((int64_t)n * d.TS + j) * C + m;
  const S* res = (const S*)e.residual;
  const bool whole = d.vec && m + V <= C;
  SevVec16<S> rv;
  if (res && whole) rv = sev_load16(res + at);
  SevVec16<S> out;
  for (int q = 0; q < V; q++) {
    if (!whole && m + q >= C) break;
    float v = Cs[i * TtGeom<S>::LDC + mm + q];
    if (e.bias) v += e.bias[m + q];
    if (res) v += St::load(whole ? rv.e[q] : res[at + q]);
    if (e.relu) v = v > 0.f ? v : 0.f;
    out.e[q] = St::store(v);
    if (!whole) dst[at + q] = out.e[q];
  }
  if (whole) sev_store16(dst + at, out);
}

// ---- backward-weight: dW[m, r] = sum over items and positions of dy[n, j, m] * A[j, r] (A as the forward's) ----
// M = C output channels, N = 3C (tap, input channel) — KTRSC's order, so neither the partials nor dw need a reorder —
// and the reduction over positions split among blocks: a slice is TT_BK positions of one item, a block's slices are
// contiguous, and the splits' partials [P][C][3C] are added in split order by a second kernel (deterministic, no
// atomics; a single split writes dw directly). Both tiles are TT_BK rows of one position each ([TT_BK][64],
// row-major, 16-byte loads along channels): dy's output channels, the MMA's A read column-major; x's shifted
// tap-channels, B row-major.
#define TT_DW_TARGET_BLOCKS 1024                 // about two waves of four 128-thread blocks per SM on an H100
#define TT_DW_MAX_SCRATCH ((int64_t)16 << 20)    // floats of partial products, at most (64 MB); one split: none

template <class S>
struct TtDwGeom {
  static constexpr int V = 16 / (int)sizeof(S);
  static constexpr int LDW = 64 + 8;  // both tiles: [TT_BK][LDW], read across rows (see TtGeom)
  static constexpr int LDC = 64 + 4;  // the fp32 product tile: [64][LDC]
  static constexpr int STAGE_ELEMS = 2 * TT_BK * LDW;  // one slice's dy tile then x tile; the kernel keeps two
  static constexpr int AB_BYTES = 2 * STAGE_ELEMS * (int)sizeof(S);
  static constexpr int C_BYTES = 64 * LDC * 4;
  static constexpr int SMEM_BYTES = AB_BYTES > C_BYTES ? AB_BYTES : C_BYTES;
  static constexpr int SLOTS = TT_BK * 64 / V;    // of each tile
  static constexpr int OUT_SLOTS = 64 * 64 / 4;   // 4 fp32 partials each
};

SEV_HD int64_t tt_dw_slices(int N, int64_t TS) { return (int64_t)N * ((TS + TT_BK - 1) / TT_BK); }
inline int tt_dw_splits(int N, int C, int64_t TS) {
  const int64_t tiles = ((3 * (int64_t)C + 63) / 64) * (((int64_t)C + 63) / 64);
  int64_t p = (TT_DW_TARGET_BLOCKS + tiles - 1) / tiles;
  const int64_t slices = tt_dw_slices(N, TS), cap = TT_DW_MAX_SCRATCH / (3 * (int64_t)C * C + 1);
  if (p > slices) p = slices;
  if (p > cap) p = cap;
  if (p > 65535) p = 65535;  // grid z
  return (int)(p < 1 ? 1 : p);
}
SEV_HD void tt_dw_split_range(int64_t slices, int p, int P, int64_t* first, int64_t* last) {
  *first = slices * p / P;
  *last = slices * (p + 1) / P;
}
// Both dw tiles: slot -> row kk = slot / (64/V) (a position), V channels from (slot % (64/V)) * V
template <class S>
SEV_HD int tt_dw_offset(int slot) {
  constexpr int V = TtGeom<S>::V;
  return (slot / (64 / V)) * TtDwGeom<S>::LDW + (slot % (64 / V)) * V;
}
// d.vec: dy's 16 bytes of the slot (position j0 + kk of item n, output channels m0 + ..), or NULL for zeros
template <class St>
SEV_HD const typename St::storage* tt_dw_dy_src(const typename St::storage* dy, const TtDims& d, int n, int64_t j0,
                                                int m0, int slot) {
  constexpr int V = TtGeom<typename St::storage>::V;
  const int64_t j = j0 + slot / (64 / V);
  const int m = m0 + (slot % (64 / V)) * V;
  return j < d.TS && m < d.C ? dy + ((int64_t)n * d.TS + j) * d.C + m : nullptr;
}
template <class St>
SEV_HD SevVec16<typename St::storage> tt_dw_fetch_dy(const typename St::storage* dy, const TtDims& d, int n, int64_t j0,
                                                  int m0, int slot) {
  typedef typename St::storage S;
  constexpr int V = TtGeom<S>::V;
  if (d.vec) return tt_load_or_zeros(tt_dw_dy_src<St>(dy, d, n, j0, m0, slot));
  const int64_t j = j0 + slot / (64 / V);
  const int m = m0 + (slot % (64 / V)) * V;
  SevVec16<S> v = tt_zeros<S>();
  if (j >= d.TS) return v;
  const S* row = dy + ((int64_t)n * d.TS + j) * d.C;
  for (int q = 0; q < V && m + q < d.C; q++) v.e[q] = row[m + q];
  return v;
}
// x's slot: the shifted row of position j0 + kk, V tap-channels from r0 + rr
template <class St>
SEV_HD const typename St::storage* tt_dw_x_src(const typename St::storage* x, const TtDims& d, int n, int64_t j0,
                                               int r0, int slot) {
  constexpr int V = TtGeom<typename St::storage>::V;
  return tt_row_src(x, d, n, j0 + slot / (64 / V), r0 + (slot % (64 / V)) * V, false);
}
template <class St>
SEV_HD SevVec16<typename St::storage> tt_dw_fetch_x(const typename St::storage* x, const TtDims& d, int n, int64_t j0,
                                                 int r0, int slot) {
  constexpr int V = TtGeom<typename St::storage>::V;
  return tt_fetch_row<St>(x, d, n, j0 + slot / (64 / V), r0 + (slot % (64 / V)) * V, false);
}
template <class S>
SEV_HD void tt_dw_put(S* tile, int slot, const SevVec16<S>& v) {
  sev_store16(tile + tt_dw_offset<S>(slot), v);
}
// 4 partials of the tile (m0, r0) from Cs [64][LDC] into part [C][3C]: one 16-byte store when C is a multiple of 4
// (then 3C and the part's offset are too) and part is aligned (a single split writes the caller's dw)
SEV_HD void tt_dw_store_slot(float* part, const float* Cs, int ldc, int slot, int m0, int r0, int C) {
  const int i = slot / 16, rr = (slot % 16) * 4;
  const int m = m0 + i, r = r0 + rr;
  if (m >= C || r >= 3 * C) return;
  float* out = part + (int64_t)m * 3 * C + r;
  const float* in = Cs + i * ldc + rr;
  if (C % 4 == 0 && ((uintptr_t)out & 15u) == 0) {
#if defined(__CUDA_ARCH__)
    *reinterpret_cast<float4*>(out) = *reinterpret_cast<const float4*>(in);
#else
    memcpy(out, in, 16);
#endif
    return;
  }
  for (int q = 0; q < 4 && r + q < 3 * C; q++) out[q] = in[q];
}
SEV_HD float tt_dw_reduce_element(const float* parts, int P, int64_t i, int64_t per) {
  float s = 0.f;
  for (int p = 0; p < P; p++) s += parts[(int64_t)p * per + i];
  return s;
}

// fp32 -> TF32 as the tensor cores take it (cvt.rna.tf32.f32: nearest, ties away from zero; 10 explicit mantissa
// bits, the low 13 bits zero). The host driver's MMA applies it to both operands, as the kernel does.
SEV_HD float tt_tf32(float f) {
  uint32_t u = sev_f32_bits(f);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  return sev_bits_f32(u);
}

// ---- argument check, shared by the launcher and the host driver: NULL when the arguments fit, else why ----
inline const char* tt_bad_args(int N, int C, int T, int64_t S, int dtype, bool null_pointer) {
  if (N < 0 || C < 0 || T < 0 || S < 0) return "negative size";
  if (dtype != SEV_DT_F32 && dtype != SEV_DT_BF16 && dtype != SEV_DT_F16) return "unknown dtype";
  if (N > 65535) return "more than 65535 items (grid z)";
  if (((int64_t)C + TT_BN - 1) / TT_BN > 65535) return "more than 65535*64 channels (grid y)";
  if ((int64_t)C * 3 > 0x7fffffff) return "3*C above 2^31";
  if (S > 0 && (int64_t)T > ((int64_t)1 << 36) / S) return "T*H*W above 2^36 (grid x)";
  if (null_pointer) return "NULL pointer";
  return nullptr;
}
