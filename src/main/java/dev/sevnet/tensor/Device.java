package dev.sevnet.tensor;

import java.util.Locale;
import java.util.Objects;

/** Where a tensor's memory lives: the host (CPU) or one CUDA device. Immutable. */
public final class Device {
    public enum Type { CPU, CUDA }

    public static final Device CPU = new Device(Type.CPU, 0);

    private final Type type;
    private final int index;

    private Device(Type type, int index) {
        this.type = type;
        this.index = index;
    }

    public static Device cuda(int index) {
        if (index < 0) {
            throw new IllegalArgumentException("CUDA device index must be >= 0, got " + index);
        }
        return new Device(Type.CUDA, index);
    }

    /** Parses "cpu", "cuda", "cuda:1". ("auto" is resolved by the backend layer, not here.) */
    public static Device parse(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        if (v.equals("cpu")) {
            return CPU;
        }
        if (v.equals("cuda") || v.equals("gpu")) {
            return cuda(0);
        }
        if (v.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(v.substring(5)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad CUDA device '" + s + "': expected cuda:<index>");
            }
        }
        throw new IllegalArgumentException("unknown device '" + s + "': expected cpu, cuda or cuda:<index>");
    }

    public Type type() {
        return type;
    }

    public int index() {
        return index;
    }

    public boolean isCpu() {
        return type == Type.CPU;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Device d && d.type == type && d.index == index;
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, index);
    }

    @Override
    public String toString() {
        return type == Type.CPU ? "cpu" : "cuda:" + index;
    }
}
