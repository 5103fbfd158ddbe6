package dev.sevnet.backend.cuda;

import java.util.Locale;

/**
 * A GPU's theoretical peaks — memory bandwidth and dense arithmetic rates — from its attributes, so that benchmarks can
 * say what fraction of the device an op reaches (a roofline's ceilings). Bandwidth: the memory clock, double data rate,
 * times the bus width. Arithmetic: SMs × clock × the operations an SM retires per clock for that architecture —
 * fp32 FMAs on the CUDA cores, and the tensor cores' dense rate for 16-bit inputs (TF32 at half of it). A field is NaN
 * where the attributes do not give it (an architecture not in the table, a clock the runtime no longer reports).
 *
 * @param arch         {@code sm_XY}
 * @param memoryGBs    bytes per second / 1e9
 * @param fp32Tflops   CUDA-core fp32 (FMA = 2 operations)
 * @param tf32Tflops   tensor cores, TF32 inputs, fp32 accumulation, dense
 * @param halfTflops   tensor cores, bf16/fp16 inputs, fp32 accumulation, dense
 */
public record DevicePeaks(String arch, double memoryGBs, double fp32Tflops, double tf32Tflops, double halfTflops) {

    /**
     * From the device attributes ({@code cudaDevAttrMultiProcessorCount}, {@code ClockRate} and {@code
     * MemoryClockRate} in kHz, {@code GlobalMemoryBusWidth} in bits, compute capability).
     */
    public static DevicePeaks of(int smCount, int clockKHz, int memoryClockKHz, int busWidthBits, int major, int minor) {
        String arch = "sm_" + major + minor;
        double bw = memoryClockKHz > 0 && busWidthBits > 0 ? 2.0 * memoryClockKHz * 1e3 * (busWidthBits / 8.0) / 1e9
                : Double.NaN;
        double perClock = smCount > 0 && clockKHz > 0 ? smCount * (clockKHz * 1e3) / 1e12 : Double.NaN;
        return new DevicePeaks(arch, bw, perClock * 2 * fp32FmaPerSm(major, minor),
                perClock * tensorHalfFlopsPerSm(major, minor) / 2, perClock * tensorHalfFlopsPerSm(major, minor));
    }

    /** fp32 FMAs an SM issues per clock: 64 on Volta, Turing and the A100; 128 from GA10x and on Hopper and later. */
    static double fp32FmaPerSm(int major, int minor) {
        if (major == 7 || major == 8 && minor == 0) {
            return 64;
        }
        return major >= 8 ? 128 : Double.NaN;
    }

    /**
     * Dense 16-bit tensor-core operations (2 per multiply-add) an SM retires per clock with fp32 accumulation:
     * V100/T4 1024, A100 2048 (312 TFLOP/s = 108 SMs × 1.41 GHz × 2048), GA10x/Ada 1024 (fp32 accumulation runs at half
     * the fp16-accumulate rate on the GeForce parts: the conservative figure), H100 4096 (989 TFLOP/s at 132 SMs ×
     * 1.83 GHz), Blackwell 8192.
     */
    static double tensorHalfFlopsPerSm(int major, int minor) {
        return switch (major) {
            case 7 -> 1024;
            case 8 -> minor == 0 ? 2048 : 1024;
            case 9 -> 4096;
            case 10 -> 8192;
            default -> Double.NaN;
        };
    }

    /** The arithmetic ceiling of an fp32 op: the TF32 tensor cores where TF32 is allowed, else the CUDA cores. */
    public double fp32OpTflops(boolean tf32) {
        return tf32 ? tf32Tflops : fp32Tflops;
    }

    /** One line for logs and tables. */
    public String describe() {
        return String.format(Locale.ROOT, "%s: %.0f GB/s, fp32 %.1f TFLOP/s, TF32 %.0f, bf16/fp16 %.0f (dense)", arch,
                memoryGBs, fp32Tflops, tf32Tflops, halfTflops);
    }
}
