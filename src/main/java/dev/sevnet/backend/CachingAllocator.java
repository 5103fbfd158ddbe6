package dev.sevnet.backend;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A caching device allocator in the manner of PyTorch's: blocks freed by tensors go back to a pool
 * keyed by size and are handed out again without calling the device allocator, so a training step
 * costs no cudaMalloc/cudaFree after the first. Requests are rounded up (512 B below 1 MiB, 2 MiB
 * above) so that slightly different shapes share blocks; a cached block is reused when it is at
 * most twice the request (large blocks) so memory is not wasted on small tensors. When the device is
 * full every cached block is released and the request retried once; if it still fails a
 * {@link DeviceOutOfMemoryException} names the request and the free memory. Thread-safe.
 *
 * <p>Blocks are reused in program order on one stream, which is what makes immediate reuse safe.
 */
public final class CachingAllocator {
    static final long SMALL = 1L << 20;
    private static final long SMALL_ROUND = 512;
    private static final long LARGE_ROUND = 2L << 20;

    private final RawDeviceMemory raw;
    private final boolean reuseAnyLarger;
    private final TreeMap<Long, ArrayDeque<Long>> cache = new TreeMap<>();
    private final Map<Long, Long> live = new HashMap<>();
    private long inUse;
    private long cached;
    private long peakInUse;
    private long deviceAllocs;
    private long deviceFrees;
    private long cacheHits;
    private long requests;
    /** Blocks owned by a private pool (graph capture), by address. */
    private final Map<Long, Pool> poolOf = new HashMap<>();
    private final java.util.List<Pool> openPools = new java.util.ArrayList<>();
    private Pool capturing;
    private Thread captureThread;

    public CachingAllocator(RawDeviceMemory raw) {
        this(raw, false);
    }

    /**
     * @param reuseAnyLarger hand out the smallest cached block that fits, however much larger (a pool
     *                       sized once for the largest batch then serves every smaller one without new
     *                       blocks); false: small blocks only at their exact size, large ones up to
     *                       twice the request, so a device cache does not waste memory
     */
    public CachingAllocator(RawDeviceMemory raw, boolean reuseAnyLarger) {
        this.raw = raw;
        this.reuseAnyLarger = reuseAnyLarger;
    }

    /** Statistics of one allocator; bytes are rounded block sizes. */
    public record Stats(long inUseBytes, long cachedBytes, long peakInUseBytes, long liveBlocks, long requests,
            long cacheHits, long deviceAllocs, long deviceFrees, long pooledBytes) {
        /** In use, cached, and held free by private (graph) pools. */
        public long reservedBytes() {
            return inUseBytes + cachedBytes + pooledBytes;
        }
    }

    public static long roundUp(long bytes) {
        long b = Math.max(bytes, 1);
        long r = b < SMALL ? SMALL_ROUND : LARGE_ROUND;
        return (b + r - 1) / r * r;
    }

    /** A block of at least {@code bytes}; never returns 0. */
    public synchronized long allocate(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative allocation " + bytes);
        }
        requests++;
        long size = roundUp(bytes);
        long limit = reuseAnyLarger ? Long.MAX_VALUE : size < SMALL ? size : size * 2;
        Pool pool = capturing != null && Thread.currentThread() == captureThread ? capturing : null;
        if (pool != null) {
            // a capture reuses its own pool's blocks first: they are the graph's, in the graph's order
            long block = take(pool.free, size, limit);
            if (block != 0) {
                pool.freeBytes -= live.get(block);
                return block;
            }
        }
        long block = take(cache, size, limit);
        if (block != 0) {
            cached -= live.get(block);
            cacheHits++;
        } else {
            block = deviceMalloc(size, bytes);
            deviceAllocs++;
            track(block, size);
        }
        if (pool != null) {
            poolOf.put(block, pool);
            pool.blocks++;
        }
        return block;
    }

    /** The smallest block of {@code from} in [size, limit], tracked as live; 0 if none. */
    private long take(TreeMap<Long, ArrayDeque<Long>> from, long size, long limit) {
        Map.Entry<Long, ArrayDeque<Long>> e = from.ceilingEntry(size);
        if (e == null || e.getKey() > limit) {
            return 0;
        }
        long block = e.getValue().pop();
        if (e.getValue().isEmpty()) {
            from.remove(e.getKey());
        }
        return track(block, e.getKey());
    }

    private long deviceMalloc(long size, long bytes) {
        long block = raw.malloc(size);
        if (block == 0) {
            releaseCached();
            block = raw.malloc(size);
            if (block == 0) {
                throw new DeviceOutOfMemoryException(raw.deviceName(), bytes, raw.freeBytes(), inUse, raw.totalBytes());
            }
        }
        return block;
    }

    private long track(long block, long size) {
        live.put(block, size);
        inUse += size;
        peakInUse = Math.max(peakInUse, inUse);
        return block;
    }

    /** Returns a block to the cache, or to its private pool while that pool is open. */
    public synchronized void free(long block) {
        Long size = live.remove(block);
        if (size == null) {
            throw new IllegalStateException("free of a block this allocator does not own: 0x" + Long.toHexString(block));
        }
        inUse -= size;
        Pool pool = poolOf.get(block);
        if (pool != null) {
            pool.free.computeIfAbsent(size, k -> new ArrayDeque<>()).push(block);
            pool.freeBytes += size;
            return;
        }
        cached += size;
        cache.computeIfAbsent(size, k -> new ArrayDeque<>()).push(block);
    }

    /**
     * A private pool for capturing work into a CUDA graph (PyTorch's graph memory pool): while the pool captures
     * on a thread, that thread's allocations come from the pool's own free blocks first, then from the cache or the
     * device, and every block so obtained belongs to the pool; a pool block freed (during or after the capture)
     * goes back to the pool, never to the shared cache, so what a graph reads and writes on replay is never handed
     * to anyone else. Several graphs replayed one after another on one stream may share a pool. {@link Pool#close}
     * returns the pool's free blocks to the cache and hands its still-live blocks to the cache when they are freed.
     */
    public final class Pool implements AutoCloseable {
        private final TreeMap<Long, ArrayDeque<Long>> free = new TreeMap<>();
        private long freeBytes;
        private long blocks;
        private boolean closed;

        private Pool() {
        }

        /** Bytes the pool holds for its graphs (blocks not in use by a live tensor). */
        public long freeBytes() {
            synchronized (CachingAllocator.this) {
                return freeBytes;
            }
        }

        /** Blocks the pool has ever taken. */
        public long blocks() {
            synchronized (CachingAllocator.this) {
                return blocks;
            }
        }

        @Override
        public void close() {
            synchronized (CachingAllocator.this) {
                if (closed) {
                    return;
                }
                if (capturing == this) {
                    throw new IllegalStateException("closing a pool that is capturing");
                }
                closed = true;
                openPools.remove(this);
                poolOf.values().removeIf(p -> p == this);
                for (Map.Entry<Long, ArrayDeque<Long>> e : free.entrySet()) {
                    for (long b : e.getValue()) {
                        cache.computeIfAbsent(e.getKey(), k -> new ArrayDeque<>()).push(b);
                        cached += e.getKey();
                    }
                }
                free.clear();
                freeBytes = 0;
            }
        }
    }

    /** A new, empty private pool. */
    public synchronized Pool newPool() {
        Pool p = new Pool();
        openPools.add(p);
        return p;
    }

    /** From now until {@link #endCapture}, the calling thread's allocations come from (and belong to) {@code pool}. */
    public synchronized void beginCapture(Pool pool) {
        if (pool == null || pool.closed) {
            throw new IllegalArgumentException("capture into a " + (pool == null ? "null" : "closed") + " pool");
        }
        if (capturing != null) {
            throw new IllegalStateException("a capture is already running on " + captureThread.getName());
        }
        capturing = pool;
        captureThread = Thread.currentThread();
    }

    public synchronized void endCapture() {
        if (capturing == null || captureThread != Thread.currentThread()) {
            throw new IllegalStateException("no capture running on this thread");
        }
        capturing = null;
        captureThread = null;
    }

    /** Gives every cached (unused) block back to the device. */
    public synchronized void releaseCached() {
        for (ArrayDeque<Long> q : cache.values()) {
            for (long b : q) {
                raw.free(b);
                deviceFrees++;
            }
        }
        cache.clear();
        cached = 0;
    }

    public synchronized Stats stats() {
        long pooled = 0;
        for (Pool p : openPools) {
            pooled += p.freeBytes;
        }
        return new Stats(inUse, cached, peakInUse, live.size(), requests, cacheHits, deviceAllocs, deviceFrees, pooled);
    }

    public synchronized void resetPeak() {
        peakInUse = inUse;
    }

    public RawDeviceMemory raw() {
        return raw;
    }
}
