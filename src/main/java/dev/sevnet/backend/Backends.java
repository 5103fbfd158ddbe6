package dev.sevnet.backend;

import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Tensor;

/** Finds the backend that runs on a device. */
public final class Backends {
    private Backends() {
    }

    /** What the calling thread's lookups go through while an {@link OpProfiler} runs on it (null: nothing). */
    private static final ThreadLocal<java.util.function.UnaryOperator<Backend>> INTERPOSED = new ThreadLocal<>();

    /**
     * Until the result is closed, the calling thread's {@link #forDevice} / {@link #of} return {@code wrap}'s view of
     * the backend (the {@link OpProfiler}'s timed one). The previous view comes back on close.
     */
    static AutoCloseable interpose(java.util.function.UnaryOperator<Backend> wrap) {
        java.util.function.UnaryOperator<Backend> previous = INTERPOSED.get();
        INTERPOSED.set(wrap);
        boolean[] closed = {false};
        return () -> {
            if (!closed[0]) {
                closed[0] = true;
                if (previous == null) {
                    INTERPOSED.remove();
                } else {
                    INTERPOSED.set(previous);
                }
            }
        };
    }

    public static Backend forDevice(Device device) {
        java.util.function.UnaryOperator<Backend> wrap = INTERPOSED.get();
        Backend b = lookUp(device);
        return wrap == null ? b : wrap.apply(b);
    }

    private static Backend lookUp(Device device) {
        if (device.isCpu()) {
            return CpuBackend.get();
        }
        dev.sevnet.backend.cuda.CudaRuntime.Status s = dev.sevnet.backend.cuda.CudaRuntime.status();
        if (!s.usable()) {
            throw new IllegalStateException("no backend for " + device + ": " + s.reason() + " (see `sevnet doctor`)");
        }
        if (!s.customKernels()) {
            throw new IllegalStateException("no backend for " + device + ": this build has no CUDA kernels (it was "
                    + "built without nvcc); rebuild with the CUDA toolkit on the PATH");
        }
        return dev.sevnet.backend.cuda.CudaBackend.get(device.index());
    }

    /**
     * Resolves "auto", "cpu", "cuda[:i]" to a device. "auto" takes cuda:0 when a usable GPU, driver,
     * cuDNN 9, cuBLAS and this build's CUDA kernels are all found; otherwise the CPU, with the reason
     * it fell back in {@code why[0]}.
     */
    public static Device resolve(String spec, String[] why) {
        if (!spec.trim().equalsIgnoreCase("auto")) {
            return Device.parse(spec);
        }
        dev.sevnet.backend.cuda.CudaRuntime.Status s = dev.sevnet.backend.cuda.CudaRuntime.status();
        String reason = !s.usable() ? s.reason()
                : !s.customKernels() ? "this build has no CUDA kernels (built without nvcc)" : null;
        if (why != null && why.length > 0) {
            why[0] = reason;
        }
        return reason == null ? Device.cuda(0) : Device.CPU;
    }

    /** The backend of the device {@code t} lives on. */
    public static Backend of(Tensor t) {
        return forDevice(t.device());
    }

    public static Backend cpu() {
        return CpuBackend.get();
    }
}
