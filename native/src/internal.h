// Helpers shared by the native sources (not part of the C ABI).
#pragma once
#include <cstdint>
#include <string>

namespace sev {
// Records a thread-local error message (read back with sev_last_error) and returns code.
int fail(int code, const std::string& msg);

// The state every C ABI entry point that computes in floating point sets first, by opening a CallScope (and every
// host-run driver of a GPU kernel, by SEV_HOSTRUN_SCOPE), for the calling thread and its OpenMP team:
//
// The team size. OpenMP keeps it per thread, so sev_set_num_threads on one thread left every other Java thread (a
// data loader, a request worker, a user's executor) on all cores; the scope applies the library's setting to the
// calling thread before its kernels start their regions.
//
// Denormals. Denormal results (|x| < 2^-126 in fp32) cost the x86 cores a microcode assist per instruction: once a
// training step's gradients have shrunk towards zero (a fitted batch, late epochs), its backward convolutions ran
// 10x slower (SEVNet-G8 at 2x32x32: conv3dBackwardData 3.0 ms a call instead of 0.33). While a scope lives, results
// that would be denormal are flushed to zero (MXCSR.FTZ; TensorFlow flushes around every op, with DAZ too, and
// torch.set_flush_denormal sets both). No DAZ here: a denormal input is not read as zero, so comparisons and selects
// (a ReLU of a tiny positive value) and the 16-bit conversions (integer bit operations) keep their exact meaning;
// arithmetic on it gives a flushed result only where that result is denormal. The calling thread's MXCSR comes back
// when the scope closes (a Java thread must not return with FTZ set); its team's threads keep the mode between calls
// (another OpenMP user of the process running a region on that thread later would find them flushing). Team threads
// take the mode from the thread that starts them; a change of mode on a thread sets its team again. So every OpenMP
// region of this library must run inside a scope; the host-run drivers' scope never flushes, since the GPU kernels
// never do. sev_set_flush_denormals(0) turns flushing off (IEEE gradual underflow). A no-op off x86. Assumes
// libgomp's team per calling thread.
class CallScope {
 public:
  CallScope();                     // the library's denormal mode
  explicit CallScope(bool flush);  // this denormal mode, whatever the setting
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  unsigned saved_;
};

// The eval batch norm as y = x * a[c] + b[c] (running statistics; gamma/beta NULL: 1/0): the coefficients of
// sev_batchnorm_eval_forward and of the conv's fused eval epilogue (conv3d.cpp), computed once so both round alike.
void bn_eval_coefficients(const float* gamma, const float* beta, const float* running_mean, const float* running_var,
                          float eps, int64_t C, float* a, float* b);

// The conv/pool parameter block of sevnet.h, unpacked.
struct ConvParams {
  int N, Cin, T, H, W, Cout, kT, kH, kW, sT, sH, sW, pT, pH, pW, groups, To, Ho, Wo;
  explicit ConvParams(const int* p)
      : N(p[0]), Cin(p[1]), T(p[2]), H(p[3]), W(p[4]), Cout(p[5]), kT(p[6]), kH(p[7]), kW(p[8]),
        sT(p[9]), sH(p[10]), sW(p[11]), pT(p[12]), pH(p[13]), pW(p[14]), groups(p[15]), To(p[16]),
        Ho(p[17]), Wo(p[18]) {}
  int64_t in_spatial() const { return (int64_t)T * H * W; }
  int64_t out_spatial() const { return (int64_t)To * Ho * Wo; }
  int cin_g() const { return Cin / groups; }
  int cout_g() const { return Cout / groups; }
  int64_t ksize() const { return (int64_t)kT * kH * kW; }
};

// Outputs o in [lo, hi) whose tap k lands inside [0, n) along one axis: 0 <= o*s - pad + k < n (clamped to
// [0, outs], hi >= lo): the range a window loop can run without a bounds test (pooling, im2col).
inline void tap_range(int k, int s, int pad, int n, int outs, int& lo, int& hi) {
  const int a = pad - k, b = n - 1 + pad - k;
  lo = a <= 0 ? 0 : (a + s - 1) / s;
  hi = b < 0 ? 0 : b / s + 1;
  if (lo > outs) lo = outs;
  if (hi > outs) hi = outs;
  if (hi < lo) hi = lo;
}
}  // namespace sev

// The first statement of every floating-point C ABI entry point.
#define SEV_CALL_SCOPE() ::sev::CallScope sev_call_scope_
// The first statement of every host-run driver of a GPU kernel: IEEE gradual underflow, as the device computes.
#define SEV_HOSTRUN_SCOPE() ::sev::CallScope sev_call_scope_(false)
