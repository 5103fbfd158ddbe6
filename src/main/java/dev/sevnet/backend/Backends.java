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

    /** The backend of the device {@code t} lives on. */
    public static Backend of(Tensor t) {
        return forDevice(t.device());
    }

    public static Backend cpu() {
        return CpuBackend.get();
    }
}
