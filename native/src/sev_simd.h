// SIMD helpers shared by the CPU kernels (not part of the C ABI).
//
// Kernels are written once as always_inline templates over a GCC vector-extension type and
// instantiated inside three wrappers compiled for AVX-512, AVX2+FMA and the x86-64 baseline; the
// wrapper is picked at run time with __builtin_cpu_supports (the build itself has no -march flag).
// Inlining a baseline-target template into a target("avx512f") wrapper is what gives the body its
// ISA; keep vector types out of function signatures (pointers only) so no psABI issues arise.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#define SEV_INLINE inline __attribute__((always_inline))
#if defined(__x86_64__) || defined(__i386__)
#define SEV_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define SEV_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define SEV_X86 1
#else
#define SEV_TARGET_AVX512
#define SEV_TARGET_AVX2
#define SEV_X86 0
#endif

namespace sev {

typedef float v16f __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

// vector of VL floats, unaligned load/store through memcpy (compiles to one vmovups)
// (by reference: no vector types in signatures, so no psABI notes)
template <class V>
SEV_INLINE void vload(V& v, const float* p) {
  std::memcpy(&v, p, sizeof(V));
}
template <class V>
SEV_INLINE void vstore(float* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}

// 2: AVX-512F, 1: AVX2+FMA, 0: baseline. SEV_ISA=avx2|scalar in the environment caps it (testing).
int cpu_isa();

// 64-byte aligned memory; free with aligned_free. From malloc, the block's own address kept just below the aligned
// one — not aligned_alloc: glibc carves that out of a larger chunk and frees the ends, and a small end left between the
// freed block and the heap's top keeps the two apart, so the next call of the same size takes fresh memory and faults
// in every page (768 page faults each call of a temporal conv's 3 MB transposed weights; in a C loop its median fp32
// backward-data call at [8,512,8,4,4] went 16.7 -> 7.7 ms with this)
inline void* aligned_bytes(size_t bytes) {
  void* raw = std::malloc(bytes + 64 + sizeof(void*));
  if (!raw) return nullptr;
  const uintptr_t a = ((uintptr_t)raw + sizeof(void*) + 63) & ~(uintptr_t)63;
  reinterpret_cast<void**>(a)[-1] = raw;
  return reinterpret_cast<void*>(a);
}
inline void aligned_free(void* p) {
  if (p) std::free(static_cast<void**>(p)[-1]);
}
inline float* aligned_floats(size_t n) { return static_cast<float*>(aligned_bytes(n * sizeof(float))); }

// RAII owner of an aligned float buffer (freed on every return path).
struct FloatBuf {
  float* p = nullptr;
  FloatBuf() = default;
  explicit FloatBuf(size_t n) : p(aligned_floats(n)) {}
  ~FloatBuf() { aligned_free(p); }
  FloatBuf(const FloatBuf&) = delete;
  FloatBuf& operator=(const FloatBuf&) = delete;
  float* get() const { return p; }
};

// Thread-local reusable scratch (grown on demand, freed when the thread exits). slot 0..3.
float* scratch(int slot, size_t n);

// ---- GEMM (gemm.cpp) ----
// Row-major C = alpha op(A) op(B) + beta C. beta == 0 never reads C.
// sgemm: opens one OpenMP parallel region per call (inside any enclosing parallel region, active or
// not, it runs serially — never nested). Callers that issue many GEMMs (conv3d) should instead open
// one region themselves and call sgemm_serial (one thread, thread-local packing) on disjoint parts.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void sgemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// bf16 compute on AMX or AVX512-BF16 (gemm_bf16.cpp, bf16_kernel()): C = A B + beta C, A row-major M x K, B plain
// (sb == nullptr) or the temporal conv's time-shifted rows (sb as sgemm_serial_shifted's), both rounded to bf16, fp32
// accumulation; on the calling thread. false: no bf16 kernel, or no work buffer (the caller runs its fp32 GEMM).
// after (when not null) is called with each finished column block [j0, j0 + nc) of C, all M rows, while it is in
// cache (the convolutions' epilogue). It runs with the tiles configured and the thread's bf16 buffers in use: it
// must not call sgemm_bf16 itself.
struct GemmBlockHook {
  void (*fn)(void* ctx, int64_t j0, int64_t nc);
  void* ctx;
};
bool sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                const int64_t* sb, float beta, float* C, int64_t ldc, const GemmBlockHook* after = nullptr);
// the general form: A plain or shifted (sa); op(B) = B (plain or shifted, sb) or, with tB, B^T (B stored N x K, plain:
// the weight gradients' dy x^T); the after hook is called once C's column block is final
bool sgemm_bf16_ex(bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const int64_t* sa,
                   const float* B, int64_t ldb, const int64_t* sb, float beta, float* C, int64_t ldc,
                   const GemmBlockHook* after = nullptr);
// A matrix rounded to bf16 once for the GEMMs that reuse it — a convolution's weights, which every work unit of a call
// multiplies (rounded per unit, eight times a call at [8,512,8,4,4], they were 13% of that temporal forward): rows
// [0, M) at p + r * ld, ld = K rounded up to 32 with zeros, then 32 rows of zeros (a block's rows past a GEMM's M are
// read and computed, not stored). Empty (ok() false) when bf16 compute is off or the buffer could not be had.
struct Bf16Weights {
  uint16_t* p = nullptr;
  int64_t ld = 0;
  Bf16Weights(const float* A, int64_t M, int64_t K, int64_t lda);
  // the backward-data passes' transposed weights, gathered and rounded in one pass: w is [groups][cog][rows][kT], row
  // g * rows + r of A is w[g][co][r][kt] over co, kt (column co * kT + kt)
  struct Transposed {
    int groups;
    int64_t cog, rows;
    int kT;
  };
  Bf16Weights(const float* w, const Transposed& t);
  ~Bf16Weights();
  Bf16Weights(const Bf16Weights&) = delete;
  Bf16Weights& operator=(const Bf16Weights&) = delete;
  bool ok() const { return p != nullptr; }
};
// sgemm_bf16 with A = the rows [r0, r0 + M) of a, K columns
bool sgemm_bf16_pre(int64_t M, int64_t N, int64_t K, const Bf16Weights& a, int64_t r0, const float* B, int64_t ldb,
                    const int64_t* sb, float beta, float* C, int64_t ldc, const GemmBlockHook* after = nullptr);
// the fp32 precision is bf16 (sev_set_fp32_precision) and this CPU can: the GEMMs of the pointwise, temporal
// and im2col convolutions (forward and backward) take sgemm_bf16
bool bf16_gemm_active();
bool amx_bf16_usable();
// SEV_BF16_KERNEL_NONE / _AVX512 / _AMX: the kernel sgemm_bf16 runs now (sev_set_bf16_kernel's, or the best usable)
int bf16_kernel();
bool bf16_kernel_usable(int kernel);
// bf16 compute is on with the AVX512-BF16 kernel: the direct convolutions' bf16 path (conv3d.cpp)
bool bf16_direct_active();
// C [M x N] (ldc) = sum over segments s of A_s [M x K] B_s [K x N], each operand packed once by the caller and used by
// as many GEMMs as it likes (the temporal conv's frames, gemm.cpp); a null B_s is a zero segment (a tap outside the
// clip) and is skipped; C is written, never read. The tile is the one sgemm_serial_shifted picks for M rows. Serial.
class SegmentGemm {
 public:
  explicit SegmentGemm(int64_t M);
  int64_t packed_a_floats(int64_t K) const { return (M_ + MR_ - 1) / MR_ * MR_ * K; }
  int64_t packed_b_floats(int64_t K, int64_t N) const { return (N + NR_ - 1) / NR_ * NR_ * K; }
  // A's M rows at A + m*lda (K floats each) / B's K rows at B + k*ldb (N floats each), into dst
  void pack_a(const float* A, int64_t lda, int64_t K, float* dst) const {
    call(0, 0, K, lda, A, dst, nullptr, nullptr, 0, nullptr, 0);
  }
  void pack_b(const float* B, int64_t ldb, int64_t K, int64_t N, float* dst) const {
    call(1, N, K, ldb, B, dst, nullptr, nullptr, 0, nullptr, 0);
  }
  void run(int64_t N, int64_t K, const float* const* pa, const float* const* pb, int S, float* C, int64_t ldc) const {
    call(2, N, K, 0, nullptr, nullptr, pa, pb, S, C, ldc);
  }

 private:
  void call(int op, int64_t N, int64_t K, int64_t ld, const float* src, float* dst, const float* const* pa,
            const float* const* pb, int S, float* C, int64_t ldc) const;
  int64_t M_;
  int kind_, MR_, NR_;
};
// register tile (MR x NR) of the micro-kernel picked for this CPU: callers that split a GEMM into
// rectangles themselves align the rectangles to it
void gemm_tile(int& MR, int& NR);
// plain triple loop (double accumulation) — the reference the tests compare with
void sgemm_reference(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace sev
