// Helpers shared by the native sources (not part of the C ABI).
#pragma once
#include <cstdint>
#include <string>

namespace sev {
// Records a thread-local error message (read back with sev_last_error) and returns code.
int fail(int code, const std::string& msg);

// Denormal results (|x| < 2^-126 in fp32) cost the x86 cores a microcode assist per instruction: once a training
// step's gradients have shrunk towards zero (a fitted batch, late epochs), its backward convolutions ran 10x slower
// (SEVNet-G8 at 2x32x32: conv3dBackwardData 3.1 ms a call instead of 0.3). Every C ABI entry point that computes in
// floating point opens a DenormalScope first: while it lives, results that would be denormal are flushed to zero
// (MXCSR.FTZ — TensorFlow's ScopedFlushDenormal around every op, torch.set_flush_denormal). Inputs are read as they
// are (no DAZ), so a comparison (a ReLU mask of a tiny positive value) and a conversion keep their exact meaning.
// The calling thread's MXCSR comes back when the scope closes (a Java thread must not return with FTZ set); the
// OpenMP workers of the thread's team are set once per mode and team size (prime_workers in core.cpp), and threads
// the team starts later inherit the flag from the thread that starts them, inside a scope. sev_set_flush_denormals(0)
// turns it off (IEEE gradual underflow). A no-op off x86.
class DenormalScope {
 public:
  DenormalScope();
  ~DenormalScope();
  DenormalScope(const DenormalScope&) = delete;
  DenormalScope& operator=(const DenormalScope&) = delete;

 private:
  unsigned saved_;
};

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
}  // namespace sev

// The first statement of every floating-point C ABI entry point.
#define SEV_DENORMAL_SCOPE() ::sev::DenormalScope sev_denormal_scope_
