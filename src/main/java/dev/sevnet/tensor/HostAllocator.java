package dev.sevnet.tensor;

import org.bytedeco.javacpp.Pointer;

/**
 * Where host tensors get their memory. By default every tensor mallocs its own block; a thread can
 * {@link #bind(HostAllocator) bind} an allocator (a pool such as
 * {@code dev.sevnet.backend.cpu.HostMemoryPool}) so that tensors it creates take their memory from it
 * — the way an inference worker reuses the same buffers batch after batch instead of calling malloc.
 * A tensor remembers the allocator it came from and gives its block back there when freed, on any
 * thread, even after the binding ended.
 */
public interface HostAllocator {
    /** A block of at least {@code bytes}; never 0. */
    long allocate(long bytes);

    /** Gives back a block this allocator returned. */
    void free(long address);

    /** Unbinds on close, restoring whatever was bound before. */
    interface Binding extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Makes {@code allocator} the source of host tensor memory on the calling thread until the returned
     * binding is closed. Bindings nest.
     */
    static Binding bind(HostAllocator allocator) {
        if (allocator == null) {
            throw new IllegalArgumentException("allocator must not be null");
        }
        HostAllocator previous = Bound.CURRENT.get();
        Thread owner = Thread.currentThread();
        Bound.CURRENT.set(allocator);
        return new Binding() {
            private boolean closed;

            @Override
            public void close() {
                if (closed) {
                    return;
                }
                if (Thread.currentThread() != owner) {
                    throw new IllegalStateException("a host allocator binding must be closed on the thread that made it");
                }
                closed = true;
                Bound.CURRENT.set(previous);
            }
        };
    }

    /** The allocator bound to the calling thread, or null for plain malloc. */
    static HostAllocator current() {
        return Bound.CURRENT.get();
    }

    /**
     * Plain native malloc, counted in {@link MemoryStats} (pools call this for the blocks they own).
     *
     * @throws OutOfMemoryError when the system has no room
     */
    static long malloc(long bytes) {
        long request = Math.max(bytes, 1);
        Pointer p = Pointer.malloc(request);
        if (p == null || p.isNull()) {
            throw new OutOfMemoryError("native host allocation of " + bytes + " bytes failed (live: "
                    + MemoryStats.liveHostBytes() + " bytes)");
        }
        MemoryStats.onHostAlloc(bytes);
        return p.address();
    }

    /** Frees a block of {@code bytes} from {@link #malloc(long)}. */
    static void free(long address, long bytes) {
        Pointer.free(new Bound.Raw(address));
        MemoryStats.onHostFree(bytes);
    }

    /** Holder of the thread-local binding (interfaces cannot have private fields). */
    final class Bound {
        private static final ThreadLocal<HostAllocator> CURRENT = new ThreadLocal<>();

        private Bound() {
        }

        private static final class Raw extends Pointer {
            Raw(long a) {
                address = a;
            }
        }
    }
}
