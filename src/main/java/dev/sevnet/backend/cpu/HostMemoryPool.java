package dev.sevnet.backend.cpu;

import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.RawDeviceMemory;
import dev.sevnet.tensor.HostAllocator;
import java.util.HashMap;
import java.util.Map;

/**
 * A pool of host memory for tensors, in the manner of PyTorch's CPU caching allocator: a thread
 * {@link #bind() binds} it, and every tensor that thread creates takes a block from the pool and
 * gives it back when closed. After one forward pass at the largest batch the pool holds every buffer
 * the model needs, and later passes (that batch or smaller) run without a single malloc — the
 * {@link dev.sevnet.infer.Predictor}'s workers use one each. Blocks are reused by best fit.
 *
 * <p>Thread-safe: tensors may be freed on any thread. {@link #close()} frees the cached blocks at
 * once; blocks still held by live tensors are freed when those tensors are closed.
 */
public final class HostMemoryPool implements HostAllocator, AutoCloseable {
    private final String name;
    private final Malloc raw = new Malloc();
    private final CachingAllocator cache = new CachingAllocator(raw, true);
    private boolean closed;

    public HostMemoryPool(String name) {
        this.name = name;
    }

    /** Makes this pool the source of host tensor memory on the calling thread until the binding is closed. */
    public HostAllocator.Binding bind() {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("host memory pool " + name + " is closed");
            }
        }
        return HostAllocator.bind(this);
    }

    @Override
    public long allocate(long bytes) {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("host memory pool " + name + " is closed");
            }
        }
        try {
            return cache.allocate(bytes);
        } catch (dev.sevnet.backend.DeviceOutOfMemoryException e) {
            OutOfMemoryError oom = new OutOfMemoryError(e.getMessage());
            oom.initCause(e);
            throw oom;
        }
    }

    @Override
    public void free(long address) {
        cache.free(address);
        synchronized (this) {
            if (closed) {
                cache.releaseCached();
            }
        }
    }

    /**
     * Block counts and bytes: {@code deviceAllocs} are the mallocs this pool made (constant in steady
     * state), {@code cacheHits} the requests served from the pool.
     */
    public CachingAllocator.Stats stats() {
        return cache.stats();
    }

    public String name() {
        return name;
    }

    /** Frees the cached blocks; blocks of live tensors are freed when they close. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        cache.releaseCached();
    }

    /** The pool's source: counted native malloc. */
    private static final class Malloc implements RawDeviceMemory {
        private final Map<Long, Long> sizes = new HashMap<>();

        @Override
        public synchronized long malloc(long bytes) {
            long a;
            try {
                a = HostAllocator.malloc(bytes);
            } catch (OutOfMemoryError e) {
                return 0; // the cache releases what it holds and retries once
            }
            sizes.put(a, bytes);
            return a;
        }

        @Override
        public synchronized void free(long address) {
            Long bytes = sizes.remove(address);
            if (bytes == null) {
                throw new IllegalStateException("free of a block the pool did not malloc: 0x" + Long.toHexString(address));
            }
            HostAllocator.free(address, bytes);
        }

        @Override
        public long freeBytes() {
            return meminfo("MemAvailable:");
        }

        @Override
        public long totalBytes() {
            return meminfo("MemTotal:");
        }

        /** A /proc/meminfo field in bytes (only read when an allocation failed), or -1. */
        private static long meminfo(String field) {
            try {
                for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/meminfo"))) {
                    if (line.startsWith(field)) {
                        return Long.parseLong(line.substring(field.length()).replace("kB", "").trim()) * 1024;
                    }
                }
            } catch (java.io.IOException | RuntimeException e) {
                // not Linux, or unreadable: the message says "unknown"
            }
            return -1;
        }

        @Override
        public String deviceName() {
            return "cpu";
        }
    }
}
