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

    /**
     * Copies {@code bytes} from this storage (from byte {@code offset}) into host memory at
     * {@code hostDst}; synchronous. Device storages override this.
     */
    public void copyToHost(long offset, long hostDst, long bytes) {
        checkRange(offset, bytes);
        org.bytedeco.javacpp.Pointer.memcpy(new Raw(hostDst), new Raw(address() + offset), bytes);
    }

    /** Copies {@code bytes} from host memory at {@code hostSrc} into this storage at {@code offset}. */
    public void copyFromHost(long offset, long hostSrc, long bytes) {
        checkRange(offset, bytes);
        org.bytedeco.javacpp.Pointer.memcpy(new Raw(address() + offset), new Raw(hostSrc), bytes);
    }

    protected final void checkRange(long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset + bytes > this.bytes) {
            throw new IllegalArgumentException("copy of " + bytes + " bytes at offset " + offset + " outside a storage of "
                    + this.bytes + " bytes");
        }
    }

    /** A non-owning pointer to a raw address, for native copies. */
    private static final class Raw extends org.bytedeco.javacpp.Pointer {
        Raw(long a) {
            address = a;
        }
    }

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
