package dev.sevnet.kernels;

import dev.sevnet.backend.cpu.CpuBackend;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs a test class with the CPU kernels in IEEE gradual underflow ({@link CpuBackend#setFlushDenormals} false), the
 * previous mode restored after it. For the host-run tests that compare a GPU kernel's body bit for bit with a CPU
 * reference on extreme values: the GPU kernels never flush denormals (built without {@code -ftz}), the CPU kernels do
 * by default, and these tests are about the order of the arithmetic, not the denormal mode.
 */
public final class IeeeDenormals implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(IeeeDenormals.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getStore(NS).put("flush", CpuBackend.flushDenormals());
        CpuBackend.setFlushDenormals(false);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        Boolean flush = context.getStore(NS).get("flush", Boolean.class);
        CpuBackend.setFlushDenormals(flush == null || flush);
    }
}
