package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which build of the vectorized CPU kernels runs: the best the CPU reports, capped by {@code SEV_ISA}. The pom's
 * surefire runs {@code cpu-kernels-avx2} and {@code cpu-kernels-baseline} set {@code SEV_ISA} and the system
 * property {@code sevnet.test.isaCap} together; this test fails there if the variable did not reach the native
 * library — the other tests of those runs would then have tested the default build a second time.
 */
class CpuKernelsIsaTest {

    @Test
    void theKernelBuildIsTheCpusBestUnderTheCap() {
        NativeCore.ensureLoaded();
        List<String> features = Arrays.asList(NativeCore.sev_cpu_features().split(" "));
        int best = 0;
        if (features.contains("avx2") && features.contains("fma")) {
            best = features.contains("avx512f") ? 2 : 1;
        }
        String cap = System.getenv("SEV_ISA");
        String expectedCap = System.getProperty("sevnet.test.isaCap");
        if (expectedCap != null) {
            assertEquals(expectedCap, cap, "the surefire run set sevnet.test.isaCap but SEV_ISA did not reach the JVM");
        }
        int expected = best;
        if ("avx2".equals(cap)) {
            expected = Math.min(best, 1);
        } else if ("scalar".equals(cap) || "default".equals(cap)) {
            expected = 0;
        }
        assertEquals(expected, NativeCore.sev_cpu_kernels(), "features " + features + ", SEV_ISA " + cap);
        assertEquals(new String[] {"baseline", "avx2", "avx512"}[expected], CpuBackend.cpuKernels());
    }
}
