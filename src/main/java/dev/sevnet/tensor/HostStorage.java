package dev.sevnet.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/** Off-heap host memory (malloc), freed explicitly when the last owner closes it. */
public final class HostStorage extends Storage {
    private final Pointer pointer;
    private final long address;

    private HostStorage(Pointer pointer, long bytes) {
        super(bytes, Device.CPU);
        this.pointer = pointer;
        this.address = pointer.address();
    }

    /** Allocates {@code bytes} of uninitialised host memory. */
    public static HostStorage allocate(long bytes) {
        long request = Math.max(bytes, 1);
        Pointer p = Pointer.malloc(request);
        if (p == null || p.isNull()) {
            throw new OutOfMemoryError("native host allocation of " + bytes + " bytes failed (live: "
                    + MemoryStats.liveHostBytes() + " bytes)");
        }
        MemoryStats.onHostAlloc(bytes);
        return new HostStorage(p, bytes);
    }

    @Override
    public long address() {
        if (isFreed()) {
            throw new IllegalStateException("use of freed host storage");
        }
        return address;
    }

    /** A little-endian view of this memory; valid only while the storage is alive. */
    public ByteBuffer byteBuffer() {
        ByteBuffer b = new BytePointer(pointer).capacity(bytes()).asByteBuffer();
        return b.order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    protected void free() {
        Pointer.free(pointer);
        MemoryStats.onHostFree(bytes());
    }
}
