package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every native call sets first (native/src/internal.h, {@code sev::CallScope}): the library's thread count on the
 * calling thread, whichever Java thread it is; and the denormal mode. The native kernels flush denormal results to
 * zero (MXCSR.FTZ, {@link CpuBackend#setFlushDenormals}): on the calling thread and on every thread of its OpenMP
 * team; the calling thread's state comes back on return — Java's own arithmetic after the call still underflows
 * gradually — and inputs are not read as zero (a ReLU passes a denormal input through). Off, the kernels underflow
 * gradually too; the host-run drivers of the GPU kernels always do.
 */
class CallScopeTest {
    /** 2^-127: a denormal, the product of the two probe factors. */
    static final float DENORMAL = Float.MIN_NORMAL / 2;
    private int threadsBefore;
    private boolean flushBefore;

    @BeforeEach
    void twoThreadsFlushing() {
        threadsBefore = CpuBackend.numThreads();
        flushBefore = CpuBackend.flushDenormals();
        assumeTrue(System.getProperty("os.arch").matches("amd64|x86_64"), "MXCSR is x86's");
        CpuBackend.setNumThreads(2);
        CpuBackend.setFlushDenormals(true);
    }

    @AfterEach
    void restore() {
        CpuBackend.setFlushDenormals(flushBefore);
        CpuBackend.setNumThreads(threadsBefore);
    }

    /** a * b natively: [calling thread, team thread 0, team thread 1, ...] */
    static float[] probe(float a, float b) {
        float[] out = new float[9];
        int n = NativeCore.sev_denormal_probe(a, b, out, out.length);
        assertTrue(n >= 2, "a team of two threads: " + n);
        float[] r = new float[n + 1];
        System.arraycopy(out, 0, r, 0, n + 1);
        return r;
    }

    /** a * b in Java, where the JIT cannot fold the factors. */
    static float javaProduct(float[] factors) {
        return factors[0] * factors[1];
    }

    @Test
    void onByDefaultOnEveryThreadOfTheTeam() {
        if (System.getProperty("sevnet.flushDenormals") == null) {
            assertTrue(flushBefore, "the default");
        }
        for (float v : probe(Float.MIN_NORMAL, 0.5f)) {
            assertEquals(0f, v, "flushed on every thread");
        }
        for (float v : probe(Float.MIN_NORMAL, 2f)) {
            assertEquals(2 * Float.MIN_NORMAL, v, "a normal result is untouched");
        }
    }

    @Test
    void offUnderflowsGraduallyOnEveryThread() {
        probe(Float.MIN_NORMAL, 0.5f); // the team primed with flushing first: turning it off must reach the workers
        CpuBackend.setFlushDenormals(false);
        assertTrue(!CpuBackend.flushDenormals());
        for (float v : probe(Float.MIN_NORMAL, 0.5f)) {
            assertEquals(DENORMAL, v, "IEEE gradual underflow");
        }
        CpuBackend.setFlushDenormals(true);
        for (float v : probe(Float.MIN_NORMAL, 0.5f)) {
            assertEquals(0f, v, "on again");
        }
    }

    @Test
    void javaArithmeticAfterANativeCallKeepsIeeeSemantics() {
        float[] factors = {Float.MIN_NORMAL, 0.5f};
        for (int i = 0; i < 20_000; i++) { // interpreted, then compiled: both after native calls that flushed
            probe(Float.MIN_NORMAL, 0.5f);
            assertEquals(DENORMAL, javaProduct(factors), "iteration " + i);
        }
    }

    /**
     * The host-run drivers of the GPU kernels compute as the device does, in IEEE gradual underflow, on every thread of
     * the team — also right after a kernel that flushed (the team's threads keep their MXCSR between calls) — and a
     * kernel after them flushes again on every thread.
     */
    @Test
    void hostRunDriversNeverFlushAndKernelsAfterThemDo() {
        int n = 1 << 16; // large enough to be split across the team
        float[] v = new float[n];
        java.util.Arrays.fill(v, Float.MIN_NORMAL);
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.of(v, Shape.of(n));
            Tensor y = Tensor.empty(Shape.of(n));
            CpuBackend cpu = CpuBackend.get();
            for (int round = 0; round < 2; round++) {
                cpu.scale(x, 0.5f).close(); // a flushing kernel first: the team is set to flush
                assertEquals(0, NativeCore.sev_hostrun_scale(x.address(), 0.5f, y.address(), n));
                float[] got = y.toFloatArray();
                for (int i = 0; i < n; i++) {
                    assertEquals(DENORMAL, got[i], "host-run element " + i + " (round " + round + ")");
                }
                float[] flushed = cpu.scale(x, 0.5f).toFloatArray();
                for (int i = 0; i < n; i++) {
                    assertEquals(0f, flushed[i], "kernel element " + i + " after a host-run call, round " + round);
                }
            }
        }
    }

    /** setNumThreads binds every thread's native calls, not only the calling thread's (OpenMP's own setting is). */
    @Test
    void theThreadCountReachesOtherJavaThreads() throws Exception {
        for (int n : new int[] {1, 2, 1}) {
            CpuBackend.setNumThreads(n);
            int[] team = new int[1];
            Thread other = new Thread(() -> team[0] = NativeCore.sev_denormal_probe(1f, 1f, new float[9], 9));
            other.start();
            other.join();
            assertEquals(n, team[0], "a team of the set size on another thread");
            assertEquals(n, CpuBackend.numThreads());
        }
    }

    /**
     * A thread's own count (setCurrentThreadNumThreads: a predictor's batching threads) binds that thread alone, over
     * the library's; cleared, the thread follows the library's again.
     */
    @Test
    void aThreadsOwnCountBindsThatThreadAlone() throws Exception {
        CpuBackend.setNumThreads(2);
        int[] seen = new int[4];
        Thread t = new Thread(() -> {
            CpuBackend.setCurrentThreadNumThreads(1);
            seen[0] = NativeCore.sev_denormal_probe(1f, 1f, new float[9], 9);
            seen[1] = CpuBackend.currentThreadNumThreads();
            CpuBackend.setCurrentThreadNumThreads(0);
            seen[2] = NativeCore.sev_denormal_probe(1f, 1f, new float[9], 9);
            seen[3] = CpuBackend.currentThreadNumThreads();
        });
        t.start();
        int here = NativeCore.sev_denormal_probe(1f, 1f, new float[9], 9);
        t.join();
        assertEquals(1, seen[0], "a team of the thread's own size");
        assertEquals(1, seen[1]);
        assertEquals(2, seen[2], "cleared: the library's size again");
        assertEquals(2, seen[3]);
        assertEquals(2, here, "another thread's own count leaves this thread's team alone");
        assertEquals(2, CpuBackend.currentThreadNumThreads());
        assertEquals(2, CpuBackend.numThreads(), "and the library's setting");
    }

    @Test
    void kernelsFlushResultsButNotInputs() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.of(new float[] {Float.MIN_NORMAL, DENORMAL, -DENORMAL, 1f}, Shape.of(4));
            CpuBackend cpu = CpuBackend.get();
            float[] halved = cpu.scale(x, 0.5f).toFloatArray();
            assertEquals(0f, halved[0], "MIN_NORMAL / 2 is a denormal result: flushed");
            assertEquals(0f, halved[1]);
            assertEquals(0.5f, halved[3]);
            float[] relu = cpu.relu(x).toFloatArray();
            assertEquals(DENORMAL, relu[1], "a denormal input is read as it is (no DAZ): ReLU passes it");
            assertEquals(0f, relu[2]);
            CpuBackend.setFlushDenormals(false);
            float[] gradual = cpu.scale(x, 0.5f).toFloatArray();
            assertEquals(DENORMAL, gradual[0], "off: IEEE");
        }
    }
}
