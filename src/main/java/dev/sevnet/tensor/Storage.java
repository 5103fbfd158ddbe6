package dev.sevnet.tensor;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A block of memory on one device, shared by the tensors that view it (reshape shares storage).
 * Reference counted: the memory is freed when the last tensor using it is closed — never by the GC.
 */
public abstract class Storage {
    private final long bytes;
    private final Device device;
    private final AtomicInteger refs = new AtomicInteger(1);

    protected Storage(long bytes, Device device) {
        this.bytes = bytes;
        this.device = device;
    }

    /** The raw address of the first byte (host or device address). */
    public abstract long address();

    protected abstract void free();

    public long bytes() {
        return bytes;
    }

    public Device device() {
        return device;
    }

    final void retain() {
        int r = refs.getAndIncrement();
        if (r <= 0) {
            refs.decrementAndGet();
            throw new IllegalStateException("storage already freed");
        }
    }

    final void release() {
        int r = refs.decrementAndGet();
        if (r == 0) {
            free();
        } else if (r < 0) {
            throw new IllegalStateException("storage released twice");
        }
    }

    public boolean isFreed() {
        return refs.get() <= 0;
    }
}
