package dev.sevnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The JMH suite's harness without a GPU: every op builds and runs on the CPU backend at a small stage (so a typo in an
 * op's inputs surfaces here, not on a GPU machine), the device-time counters add up, and bad parameters are clear
 * errors. The GPU figures themselves come from running the suite on a GPU machine.
 */
class CudaKernelsJmhBenchTest {

    private static CudaKernelsJmhBench bench(String op, String stage) {
        CudaKernelsJmhBench b = new CudaKernelsJmhBench();
        b.op = op;
        b.stage = stage;
        b.kernels = "auto";
        b.device = "cpu";
        b.batch = 1;
        b.frames = 2;
        return b;
    }

    @Test
    void everyOpRunsOnTheCpuAndCountsItsTime() {
        for (String op : CudaKernelsJmhBench.OPS) {
            CudaKernelsJmhBench b = bench(op, "16x5");
            b.setUp();
            try {
                CudaKernelsJmhBench.DeviceTime t = new CudaKernelsJmhBench.DeviceTime();
                t.reset();
                b.run(t);
                b.run(t);
                assertEquals(2, t.ops, op);
                assertTrue(t.deviceMs > 0, op + ": " + t.deviceMs);
            } finally {
                b.tearDown();
            }
        }
    }

    @Test
    void theDefaultOpParameterListsEveryOp() throws NoSuchFieldException {
        org.openjdk.jmh.annotations.Param p = CudaKernelsJmhBench.class.getField("op")
                .getAnnotation(org.openjdk.jmh.annotations.Param.class);
        assertEquals(java.util.List.of(CudaKernelsJmhBench.OPS), java.util.List.of(p.value()));
    }

    @Test
    void theWorkModelCountsEachTensorOnceAndTwoOperationsPerMultiplyAdd() {
        // [8, 64, 16, 56, 56]: 25,690,112 elements an activation
        double e = 8.0 * 64 * 16 * 56 * 56;
        CudaKernelsJmhBench.Work t = CudaKernelsJmhBench.work("temporal-fwd", 8, 64, 16, 56);
        assertEquals(4 * (2 * e + 3 * 64 * 64), t.bytes());
        assertEquals(2 * e * 3 * 64, t.flops()); // each output: 3 taps x 64 input channels
        assertEquals(t, CudaKernelsJmhBench.work("temporal-cl-bwd-weight", 8, 64, 16, 56));
        CudaKernelsJmhBench.Work g = CudaKernelsJmhBench.work("grouped-folded", 8, 64, 16, 56);
        assertEquals(4 * (2 * e + 9 * 64 * 8 + 64), g.bytes()); // x, y, the weight, the bias
        assertEquals(2 * e * 9 * 8, g.flops());
        assertEquals(4 * 5 * e, CudaKernelsJmhBench.work("bn-add-relu-bwd", 8, 64, 16, 56).bytes());
        assertEquals(0, CudaKernelsJmhBench.work("bn-train", 8, 64, 16, 56).flops());
        // the clip [8, 3, 16, 224, 224] read and written once; the pool's [8, 64, 16, 28, 28] output beside its input
        assertEquals(4 * 2.0 * 8 * 3 * 16 * 224 * 224, CudaKernelsJmhBench.work("cl-reorder-clip", 8, 64, 16, 56).bytes());
        assertEquals(4 * (e + e / 4), CudaKernelsJmhBench.work("cl-pool-bwd", 8, 64, 16, 56).bytes());
        // leaf-grads: the whole model's gradients, whatever the stage — read, and each leaf read and written
        long params = CudaKernelsJmhBench.g8ParameterShapes().stream().mapToLong(dev.sevnet.tensor.Shape::size).sum();
        assertTrue(params > 1_000_000, "SEVNet-G8 has millions of parameters: " + params);
        assertEquals(4 * 3.0 * params, CudaKernelsJmhBench.work("leaf-grads", 8, 64, 16, 56).bytes());
        assertEquals(CudaKernelsJmhBench.work("leaf-grads", 8, 64, 16, 56), CudaKernelsJmhBench.work("leaf-grads", 1, 16,
                2, 5));
        for (String op : CudaKernelsJmhBench.OPS) {
            assertTrue(CudaKernelsJmhBench.work(op, 1, 16, 2, 5).bytes() > 0, op);
        }
        assertThrows(IllegalArgumentException.class, () -> CudaKernelsJmhBench.work("conv9", 1, 16, 2, 5));
    }

    @Test
    void theTableGivesRatesAndFractionsOfThePeaks() {
        var rows = java.util.List.of(
                new CudaKernelsJmhBench.Row("temporal-fwd", "64x56", "cuda", "custom", 8, 16, 0.300, 0.2884),
                new CudaKernelsJmhBench.Row("bn-train", "64x56", "cuda", "library", 8, 16, 0.2, 0.1));
        String t = CudaKernelsJmhBench.table(rows, new CudaKernelsJmhBench.Peaks(3352, 535, "sm_90, TF32"));
        assertTrue(t.contains("| % of 3352 GB/s | % of 535.0 (sm_90, TF32) TFLOP/s |"), t);
        // temporal-fwd: 9.87 GFLOP in 0.2884 ms = 34.2 TFLOP/s, 6% of 535; 206 MB = 713 GB/s, 21% of 3352
        assertTrue(t.contains("| temporal-fwd | 64x56 | cuda | custom | 0.300 | 0.288 | 713 | 34.21 | 21% | 6% |"), t);
        // bn-train moves x and y: 205.5 MB in 0.1 ms = 2055 GB/s, 61%; no arithmetic figure
        assertTrue(t.contains("| bn-train | 64x56 | cuda | library | 0.200 | 0.100 | 2055 | - | 61% | - |"), t);
        String unknown = CudaKernelsJmhBench.table(rows, new CudaKernelsJmhBench.Peaks(Double.NaN, Double.NaN, "cpu"));
        assertTrue(unknown.contains("| 713 | 34.21 | - | - |"), unknown);
    }

    @Test
    void badParametersAreClearErrors() {
        var e = assertThrows(IllegalArgumentException.class, () -> bench("conv9", "16x5").setUp());
        assertTrue(e.getMessage().contains("unknown op conv9") && e.getMessage().contains("grouped-folded"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> bench("bn-train", "12x5").setUp());
        assertTrue(e.getMessage().contains("multiple of 8"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> bench("bn-train", "64").setUp());
        assertTrue(e.getMessage().contains("CxHW"), e.getMessage());
        CudaKernelsJmhBench tpu = bench("bn-train", "16x5");
        tpu.device = "tpu";
        e = assertThrows(IllegalArgumentException.class, tpu::setUp);
        assertTrue(e.getMessage().contains("cuda or cpu"), e.getMessage());
    }
}
