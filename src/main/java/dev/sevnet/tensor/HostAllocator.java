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
        LargeBlockAdvice advice = Bound.advice;
        if (advice != null && bytes >= LARGE_BLOCK_BYTES) {
            advice.advise(p.address(), bytes);
        }
        return p.address();
    }

    /** Blocks from {@link #malloc(long)} of at least this many bytes get the {@link LargeBlockAdvice}. */
    long LARGE_BLOCK_BYTES = 4L << 20;

    /**
     * What to ask of the system for a large block right after it is allocated (the CPU backend asks for transparent
     * huge pages: {@code dev.sevnet.backend.cpu.CpuBackend#hugePages}). Advice only: it never changes the contents.
     */
    @FunctionalInterface
    interface LargeBlockAdvice {
        void advise(long address, long bytes);
    }

    /** Installs {@code advice} (null: none) for every later {@link #malloc(long)} of a large block, on every thread. */
    static void setLargeBlockAdvice(LargeBlockAdvice advice) {
        Bound.advice = advice;
    }

    /** Frees a block of {@code bytes} from {@link #malloc(long)}. */
    static void free(long address, long bytes) {
        Pointer.free(new Bound.Raw(address));
        MemoryStats.onHostFree(bytes);
    }

    /** Holder of the thread-local binding (interfaces cannot have private fields). */
    final class Bound {
        private static final ThreadLocal<HostAllocator> CURRENT = new ThreadLocal<>();
        private static volatile LargeBlockAdvice advice;

        private Bound() {
        }

        private static final class Raw extends Pointer {
            Raw(long a) {
                address = a;
            }
        }
    }
}
