package dev.sevnet.backend;

import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Tensor;

/** Finds the backend that runs on a device. */
public final class Backends {
    private Backends() {
    }

    public static Backend forDevice(Device device) {
        if (device.isCpu()) {
            return CpuBackend.get();
        }
        throw new IllegalStateException("no backend for " + device + ": this build has no CUDA backend yet "
                + "(see `sevnet doctor`)");
    }

    /**
     * Resolves "auto", "cpu", "cuda[:i]" to a device. "auto" takes CUDA only when a usable GPU is
     * found AND this build has a CUDA backend; otherwise the CPU, with the reason it fell back in
     * {@code why[0]}.
     */
    public static Device resolve(String spec, String[] why) {
        if (!spec.trim().equalsIgnoreCase("auto")) {
            return Device.parse(spec);
        }
        CudaStatus cuda = CudaStatus.probe();
        String reason = cuda.usable() ? "this build has no CUDA backend yet" : cuda.reason();
        if (why != null && why.length > 0) {
            why[0] = reason;
        }
        return Device.CPU;
    }

    /** The backend of the device {@code t} lives on. */
    public static Backend of(Tensor t) {
        return forDevice(t.device());
    }

    public static Backend cpu() {
        return CpuBackend.get();
    }
}
