package dev.sevnet.train;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Tensor;

import java.util.Locale;

/**
 * Resolves {@code --device auto|cpu|cuda[:N]}. {@code auto} takes the GPU when a CUDA backend is
 * usable and otherwise falls back to the CPU, with a one-line reason; an explicit {@code cuda} that
 * is not usable is an error naming the reason.
 *
 * @param device the device chosen
 * @param reason why (for the log line), e.g. "no CUDA backend in this build"
 */
public record DeviceChoice(Device device, Backend backend, String reason) {

    public static DeviceChoice resolve(String option) {
        String v = option == null ? "auto" : option.trim().toLowerCase(Locale.ROOT);
        if (v.equals("cpu")) {
            return new DeviceChoice(Device.CPU, Backends.cpu(), "requested");
        }
        if (v.equals("auto")) {
            String[] why = new String[1];
            Device d = Backends.resolve("auto", why);
            return new DeviceChoice(d, Backends.forDevice(d), why[0] == null ? "CUDA available" : "no GPU: " + why[0]);
        }
        Device d = Device.parse(v);
        if (d.isCpu()) {
            return new DeviceChoice(d, Backends.cpu(), "requested");
        }
        try {
            return new DeviceChoice(d, Backends.forDevice(d), "requested");
        } catch (RuntimeException | LinkageError e) {
            throw new IllegalArgumentException("device " + option + " is not usable: " + oneLine(e), e);
        }
    }

    /** {@code t} on this choice's device: {@code t} itself (a new reference) when it is there, else a copy. */
    public Tensor upload(Tensor t) {
        return t.device().equals(device) ? t.reshape(t.shape()) : backend.toDevice(t);
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
