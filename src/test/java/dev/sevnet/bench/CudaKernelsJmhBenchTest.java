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
