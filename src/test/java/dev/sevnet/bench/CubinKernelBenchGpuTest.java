package dev.sevnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.CudaStatus;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The driver-API harness's check mode on a GPU: every kernel it launches (add_kernel, the temporal conv's GEMM
 * forward / backward-data and backward-weight, the fused grouped 1x3x3 conv with its bias and BN epilogues) on
 * small ragged problems and several launch shapes each, loaded from the cubins through JCuda in the primary
 * context, against the CPU backend; then CudaBackend's (runtime-allocated) buffers through a driver-API launch.
 * Skipped without a GPU or without cubins.
 */
@Tag("gpu")
class CubinKernelBenchGpuTest {
    @BeforeAll
    static void needGpuAndCubins() {
        CudaStatus probe = CudaStatus.probe();
        Assumptions.assumeTrue(probe.usable(), () -> "no usable GPU: " + probe.reason());
        CubinElfTest.bundled();
    }

    @Test
    void checkModePasses() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc = CubinKernelBench.run(new String[] {"check"}, new PrintStream(buf, true, StandardCharsets.UTF_8));
        String out = buf.toString(StandardCharsets.UTF_8);
        System.out.println(out);
        assertEquals(0, rc, out);
        assertTrue(out.contains("all checks passed") && !out.contains("FAIL") && !out.contains("skipped:"), out);
        assertTrue(out.contains("runtime interop"), out);
    }
}
