package dev.sevnet.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.BytePointer;

/**
 * Off-heap host memory, freed explicitly when the last owner closes it: malloc'ed, or taken from the
 * {@link HostAllocator} bound to the allocating thread and given back to it.
 */
public final class HostStorage extends Storage {
    private final long address;
    private final HostAllocator allocator;

    private HostStorage(long address, long bytes, HostAllocator allocator) {
        super(bytes, Device.CPU);
        this.address = address;
        this.allocator = allocator;
    }

    /** Allocates {@code bytes} of uninitialised host memory (from the thread's bound allocator, if any). */
    public static HostStorage allocate(long bytes) {
        HostAllocator a = HostAllocator.current();
        if (a == null) {
            return new HostStorage(HostAllocator.malloc(bytes), bytes, null);
        }
        return new HostStorage(a.allocate(bytes), bytes, a);
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
        ByteBuffer b = new View(address).capacity(bytes()).asByteBuffer();
        return b.order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    protected void free() {
        if (allocator == null) {
            HostAllocator.free(address, bytes());
        } else {
            allocator.free(address);
        }
    }

    private static final class View extends BytePointer {
        View(long a) {
            address = a;
        }
    }
}
