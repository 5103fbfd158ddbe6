// Library-level entry points: version, threads, CPU features, error reporting.
#include "sevnet.h"
#include "internal.h"
#include "sev_simd.h"

#include <malloc.h>
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <string>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define SEV_HAVE_MXCSR 1
#endif

namespace {
thread_local std::string g_last_error;

// Activations are allocated and freed every step. Above glibc's default 128 KiB threshold each one
// is a fresh mmap whose pages fault in (and are zeroed by the kernel) on first touch, which cost
// more than the convolutions themselves. Keeping large blocks in the heap lets the next step reuse
// warm pages; the peak footprint is unchanged.
__attribute__((constructor)) void keep_large_blocks_in_heap() {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
}
}  // namespace

namespace sev {
int fail(int code, const std::string& msg) {
  g_last_error = msg;
  return code;
}

namespace {
std::atomic<int> g_flush_denormals{1};
// the mode of this thread's last scope at nesting level 0 (-1: none yet): its OpenMP team, if any, is in that mode
thread_local int t_primed_mode = -1;
thread_local int t_depth = 0, t_mode = 0;  // open scopes on this thread, the outermost one's mode
// sev_set_num_threads' value (0: never set, OpenMP's default), and the value this thread's OpenMP setting has: OpenMP
// keeps the team size per thread, so a Java thread other than the one that set it (a data loader, a request worker,
// a user's executor) would otherwise run every kernel on all cores
std::atomic<int> g_num_threads{0};
thread_local int t_num_threads = 0;
// sev_set_thread_num_threads' value on this thread (0: none, the library's setting applies): several Java threads
// that run models at once (a predictor's batching threads) each take a share of the cores instead of all of them
thread_local int t_own_threads = 0;
// OpenMP's team size when the library loaded (OMP_NUM_THREADS, else the cores): where a thread whose own setting is
// cleared goes back to while the library has none
const int g_default_threads = omp_get_max_threads();
#ifdef SEV_HAVE_MXCSR
constexpr unsigned kFtz = 0x8000u;   // MXCSR flush-to-zero
constexpr unsigned kIeee = 0x1F80u;  // every exception masked, round to nearest, no DAZ, no FTZ: the x86-64 default
// absolute values, so a caller's other MXCSR bits (DAZ, rounding) never reach the master and not the workers
unsigned csr_for(bool flush) { return flush ? (kIeee | kFtz) : kIeee; }

// every thread of a team of this thread's size sets its MXCSR (the master's is restored by its scope)
void prime_workers(bool flush) {
#pragma omp parallel
  _mm_setcsr(csr_for(flush));
}
#endif
}  // namespace

// A nested scope keeps the outermost one's mode: a setting changed by another thread in between does not split a
// call between master and workers.
CallScope::CallScope()
    : CallScope(t_depth > 0 ? t_mode != 0 : g_flush_denormals.load(std::memory_order_relaxed) != 0) {}

CallScope::CallScope(bool flush) {
  int threads = t_own_threads > 0 ? t_own_threads : g_num_threads.load(std::memory_order_relaxed);
  if (threads <= 0 && t_num_threads > 0) threads = g_default_threads;
  if (threads > 0 && threads != t_num_threads && omp_get_level() == 0) {
    omp_set_num_threads(threads);
    t_num_threads = threads;
  }
#ifdef SEV_HAVE_MXCSR
  saved_ = _mm_getcsr();
  _mm_setcsr(csr_for(flush));  // first: workers the team starts from here inherit it
  if (t_depth++ == 0) t_mode = flush;
  // A team's threads start with the MXCSR of the thread that starts them (libgomp starts them from the team's
  // master; a smaller team's surplus threads exit), and keep what they are set to. Every region of this library runs
  // inside a scope, so a team started (or grown again) under one mode is in that mode: nothing to do while the mode
  // stays. A change of mode on this thread — the setting, or a host-run driver's IEEE scope after a kernel's
  // flushing one — sets the existing team again. On a thread's first scope, a team made before it by another OpenMP
  // user of the process (in another mode) is let go instead: the next region starts its threads from here. (Priming
  // on a thread's first call would give every Java thread that ever calls in, the data loaders' included, a team.)
  if (omp_get_level() == 0 && t_primed_mode != (int)flush) {
    if (t_primed_mode == -1) {
      omp_pause_resource(omp_pause_soft, omp_get_initial_device());
    } else {
      prime_workers(flush);
    }
    t_primed_mode = (int)flush;
  }
#else
  (void)flush;
  saved_ = 0;
#endif
}

CallScope::~CallScope() {
#ifdef SEV_HAVE_MXCSR
  --t_depth;
  _mm_setcsr(saved_);
#endif
}
}  // namespace sev

extern "C" {

const char* sev_version(void) { return "sevnet-native 0.1.0"; }

const char* sev_last_error(void) { return g_last_error.c_str(); }

int sev_set_num_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  sev::g_num_threads.store(n);  // every thread's next call takes it (CallScope)
  omp_set_num_threads(n);
  sev::t_num_threads = n;
  return SEV_OK;
}

int sev_get_num_threads(void) {
  const int n = sev::g_num_threads.load();
  return n > 0 ? n : sev::g_default_threads;
}

int sev_set_thread_num_threads(int n) {
  sev::t_own_threads = n > 0 ? n : 0;  // the calling thread's next call applies it (CallScope)
  return SEV_OK;
}

int sev_get_thread_num_threads(void) { return sev::t_own_threads > 0 ? sev::t_own_threads : sev_get_num_threads(); }

int sev_set_flush_denormals(int on) {
  sev::g_flush_denormals.store(on != 0 ? 1 : 0);
  return SEV_OK;
}

int sev_get_flush_denormals(void) {
#ifdef SEV_HAVE_MXCSR
  return sev::g_flush_denormals.load();
#else
  return 0;
#endif
}

int sev_denormal_probe(float a, float b, float* out, int cap) {
  if (!out || cap < 1) return sev::fail(SEV_EINVAL, "denormal probe: out must hold at least one value");
  SEV_CALL_SCOPE();
  volatile float x = a, y = b;  // not folded at compile time: the product is computed here, under the scope
  out[0] = x * y;
  int n = 0;
#pragma omp parallel
  {
    volatile float u = a, v = b;
    const float p = u * v;
    const int t = omp_get_thread_num();
    if (t + 1 < cap) out[t + 1] = p;
#pragma omp single
    n = omp_get_num_threads();
  }
  return n < cap - 1 ? n : cap - 1;
}

const char* sev_cpu_features(void) {
  static std::string s = [] {
    std::string f;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) f += "sse4.2 ";
    if (__builtin_cpu_supports("avx")) f += "avx ";
    if (__builtin_cpu_supports("avx2")) f += "avx2 ";
    if (__builtin_cpu_supports("fma")) f += "fma ";
    if (__builtin_cpu_supports("avx512f")) f += "avx512f ";
    if (__builtin_cpu_supports("avx512bw")) f += "avx512bw ";
    if (__builtin_cpu_supports("avx512vl")) f += "avx512vl ";
    if (__builtin_cpu_supports("avx512bf16")) f += "avx512bf16 ";
    if (__builtin_cpu_supports("avx512vnni")) f += "avx512vnni ";
    if (!f.empty()) f.pop_back();
    return f;
  }();
  return s.c_str();
}

int sev_cpu_kernels(void) { return sev::cpu_isa(); }

// Activations live in the malloc heap (keep_large_blocks_in_heap), in 4 KiB pages unless the system makes every
// anonymous mapping huge ("always"; the common default is "madvise"). A SEVNet-G8 training step walks ~1 GB of them;
// with 2 MiB pages it ran ~4% faster here (CpuBackend.setHugePages, opt-in). This asks for them per block: the
// 2 MiB-aligned interior of a block of at least two huge pages, so no huge page holds anything but this block (no RSS
// bloat). Pages already touched stay small until the kernel collapses them; freed blocks go back to the heap, so the
// next step's tensors reuse the huge pages. Advice only: a failure changes nothing.
int sev_advise_huge_pages(void* p, int64_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = (uintptr_t)2 << 20;
  if (!p || bytes < (int64_t)(2 * kHuge)) return 0;
  const uintptr_t a = (uintptr_t)p, start = (a + kHuge - 1) & ~(kHuge - 1), end = (a + (uintptr_t)bytes) & ~(kHuge - 1);
  if (end <= start) return 0;
  return madvise((void*)start, end - start, MADV_HUGEPAGE) == 0 ? 1 : 0;
#else
  (void)p;
  (void)bytes;
  return 0;
#endif
}

int sev_has_cuda_kernels(void) {
#if SEVNET_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

int sev_sum(const float* x, int64_t n, double* out) {
  SEV_CALL_SCOPE();
  double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static)
  for (int64_t i = 0; i < n; i++) s += x[i];
  *out = s;
  return SEV_OK;
}

}  // extern "C"
