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
            long cacheHits, long deviceAllocs, long deviceFrees) {
        public long reservedBytes() {
            return inUseBytes + cachedBytes;
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
        Map.Entry<Long, ArrayDeque<Long>> e = cache.ceilingEntry(size);
        if (e != null && e.getKey() <= limit) {
            long block = e.getValue().pop();
            if (e.getValue().isEmpty()) {
                cache.remove(e.getKey());
            }
            cached -= e.getKey();
            cacheHits++;
            return track(block, e.getKey());
        }
        long block = raw.malloc(size);
        if (block == 0) {
            releaseCached();
            block = raw.malloc(size);
            if (block == 0) {
                throw new DeviceOutOfMemoryException(raw.deviceName(), bytes, raw.freeBytes(), inUse, raw.totalBytes());
            }
        }
        deviceAllocs++;
        return track(block, size);
    }

    private long track(long block, long size) {
        live.put(block, size);
        inUse += size;
        peakInUse = Math.max(peakInUse, inUse);
        return block;
    }

    /** Returns a block to the cache. */
    public synchronized void free(long block) {
        Long size = live.remove(block);
        if (size == null) {
            throw new IllegalStateException("free of a block this allocator does not own: 0x" + Long.toHexString(block));
        }
        inUse -= size;
        cached += size;
        cache.computeIfAbsent(size, k -> new ArrayDeque<>()).push(block);
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
        return new Stats(inUse, cached, peakInUse, live.size(), requests, cacheHits, deviceAllocs, deviceFrees);
    }

    public synchronized void resetPeak() {
        peakInUse = inUse;
    }

    public RawDeviceMemory raw() {
        return raw;
    }
}
