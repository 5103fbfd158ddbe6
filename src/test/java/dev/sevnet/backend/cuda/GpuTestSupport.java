package dev.sevnet.backend.cuda;

import org.junit.jupiter.api.Assumptions;

/** What the {@code gpu}-tagged tests share: they are skipped, with the reason, where no GPU path is usable. */
public final class GpuTestSupport {
    private GpuTestSupport() {
    }

    /** Skips the calling test (or class, from a {@code @BeforeAll}) unless a GPU, its libraries and this build's kernels load. */
    public static void assumeUsableGpu() {
        CudaRuntime.Status s = CudaRuntime.status();
        Assumptions.assumeTrue(s.usable() && s.customKernels(), () -> "no usable GPU: " + (s.usable()
                ? "no CUDA kernels in this build" : s.reason()));
    }
}
