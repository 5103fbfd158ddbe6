// Helpers shared by the native sources (not part of the C ABI).
#pragma once
#include <cstdint>
#include <string>

namespace sev {
// Records a thread-local error message (read back with sev_last_error) and returns code.
int fail(int code, const std::string& msg);

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
