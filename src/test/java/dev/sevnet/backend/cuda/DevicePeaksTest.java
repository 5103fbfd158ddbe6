package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The peaks against the vendors' data-sheet figures, from the attributes those GPUs report; no GPU needed. */
class DevicePeaksTest {

    @Test
    void anA100MatchesItsDataSheet() {
        // A100-SXM4-40GB: 108 SMs, 1410 MHz boost, HBM2 at 1215 MHz on a 5120-bit bus
        DevicePeaks p = DevicePeaks.of(108, 1_410_000, 1_215_000, 5120, 8, 0);
        assertEquals("sm_80", p.arch());
        assertEquals(1555, p.memoryGBs(), 1);
        assertEquals(19.5, p.fp32Tflops(), 0.1);
        assertEquals(156, p.tf32Tflops(), 1);
        assertEquals(312, p.halfTflops(), 1);
    }

    @Test
    void anH100MatchesItsDataSheet() {
        // H100 80GB HBM3 (SXM): 132 SMs, 1980 MHz boost, HBM3 at 2619 MHz on 5120 bits; NVIDIA quotes 3.35 TB/s,
        // 67 TFLOP/s fp32, 495 TF32 and 989 bf16 dense (at its 1830 MHz tensor clock: here the boost clock, 8% above)
        DevicePeaks p = DevicePeaks.of(132, 1_980_000, 2_619_000, 5120, 9, 0);
        assertEquals(3352, p.memoryGBs(), 1);
        assertEquals(66.9, p.fp32Tflops(), 0.1);
        assertEquals(535, p.tf32Tflops(), 1);
        assertEquals(1070, p.halfTflops(), 1);
        assertEquals(p.tf32Tflops(), p.fp32OpTflops(true));
        assertEquals(p.fp32Tflops(), p.fp32OpTflops(false));
        assertTrue(p.describe().startsWith("sm_90: 3352 GB/s, fp32 66.9 TFLOP/s"), p.describe());
    }

    @Test
    void whatTheAttributesDoNotGiveIsNaN() {
        DevicePeaks noClock = DevicePeaks.of(132, 0, 2_619_000, 5120, 9, 0); // a runtime that stopped reporting clocks
        assertTrue(Double.isNaN(noClock.fp32Tflops()) && Double.isNaN(noClock.halfTflops()));
        assertEquals(3352, noClock.memoryGBs(), 1);
        DevicePeaks future = DevicePeaks.of(100, 2_000_000, 0, 0, 42, 0);
        assertTrue(Double.isNaN(future.halfTflops()) && Double.isNaN(future.memoryGBs()), future.describe());
        assertEquals(100 * 2e9 * 256 / 1e12, future.fp32Tflops(), 1e-9);
    }
}
