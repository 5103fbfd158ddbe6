package dev.sevnet.backend;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.LongSupplier;

/**
 * A caching device allocator in the manner of PyTorch's: memory comes from the device in segments (cudaMalloc),
 * segments are cut into blocks, a freed block goes back to a cache and is handed out again without calling the
 * device, so a training step costs no cudaMalloc/cudaFree after the first. When the device is full every wholly
 * free cached segment is released and the request retried once; if it still fails a
 * {@link DeviceOutOfMemoryException} names the request and the free memory. Thread-safe.
 *
 * <p>As in PyTorch, a request is rounded up to 512 B and served by the best-fitting cached block, <em>split</em>
 * when the rest is worth keeping (512 B for small blocks, 1 MiB for large ones), and a freed block <em>merges</em>
 * with free neighbours of its segment; requests under 1 MiB come from 2 MiB segments of their own, larger ones
 * from segments rounded up to 2 MiB, so small long-lived tensors do not pin large segments. Without splitting a
 * cached block either fits a request at about its size or is wasted on it: a SEVNet training step's allocation
 * sequence (recorded on the CPU) needed 1.31x its live bytes in blocks and 1.48x in reserved memory that way.
 *
 * <p>Blocks are reused in program order on one stream, which is what makes immediate reuse safe. With several
 * streams (one per worker thread, {@code CudaStream}) every segment belongs to the stream that was current when it was
 * taken from the device, as in PyTorch: a freed block goes back to its segment's stream's cache and is handed out only
 * to requests made on that stream, so a block is never reused on another stream while work queued on its own may
 * still read it. A tensor used on a stream other than the one it was allocated on must therefore not be freed before
 * that stream's work is done (PyTorch's {@code record_stream} rule); {@link #retireStream} hands a finished stream's
 * segments to the default stream.
 */
public final class CachingAllocator {
    static final long SMALL = 1L << 20;
    private static final long ROUND = 512;
    /** The segment size of small requests, and the granule of large segments. */
    static final long SEGMENT_ROUND = 2L << 20;
    private static final Comparator<Block> BY_SIZE =
            Comparator.<Block>comparingLong(b -> b.size).thenComparingLong(b -> b.addr);

    private final RawDeviceMemory raw;
    private final boolean split;
    /** The cache of free blocks, one per stream (the default stream's is {@link #DEFAULT_STREAM}). */
    private final Map<Long, FreeBlocks> caches = new HashMap<>();
    /** The calling thread's current stream; a block's segment belongs to the stream it was taken on. */
    private final LongSupplier currentStream;
    private final Map<Long, Block> live = new HashMap<>();
    private long inUse;
    private long peakInUse;
    private long reserved;
    private long peakReserved;
    private long deviceAllocs;
    private long deviceFrees;
    private long cacheHits;
    private long requests;
    private final List<Pool> openPools = new ArrayList<>();
    private Pool capturing;
    private Thread captureThread;

    /** The id of the stream that is current where no other was bound. */
    public static final long DEFAULT_STREAM = 0;

    /** A device allocation, cut into blocks linked in address order; its blocks are reused on its stream only. */
    private static final class Segment {
        final long base;
        final long size;
        final boolean small;
        long stream;

        Segment(long base, long size, boolean small, long stream) {
            this.base = base;
            this.size = size;
            this.small = small;
            this.stream = stream;
        }

        long base() {
            return base;
        }

        long size() {
            return size;
        }

        boolean small() {
            return small;
        }
    }

    private static final class Block {
        final Segment segment;
        long addr;
        long size;
        Block prev;
        Block next;
        boolean allocated;
        /** The private pool it belongs to; null: its segment's stream's cache. */
        Pool owner;

        Block(Segment segment, long addr, long size) {
            this.segment = segment;
            this.addr = addr;
            this.size = size;
        }
    }

    /** Free blocks by size, small and large apart. */
    private static final class FreeBlocks {
        final TreeSet<Block> small = new TreeSet<>(BY_SIZE);
        final TreeSet<Block> large = new TreeSet<>(BY_SIZE);
        long bytes;

        TreeSet<Block> of(boolean isSmall) {
            return isSmall ? small : large;
        }

        void add(Block b) {
            of(b.segment.small()).add(b);
            bytes += b.size;
        }

        void remove(Block b) {
            if (!of(b.segment.small()).remove(b)) {
                throw new IllegalStateException("allocator bookkeeping: a free block was not listed");
            }
            bytes -= b.size;
        }

        /** The smallest free block of this kind of at least {@code size} (and at most {@code limit}), or null. */
        Block bestFit(boolean isSmall, long size, long limit) {
            Block probe = new Block(null, -1, size);
            Block b = of(isSmall).ceiling(probe);
            return b == null || b.size > limit ? null : b;
        }
    }

    public CachingAllocator(RawDeviceMemory raw) {
        this(raw, false);
    }

    /**
     * @param reuseAnyLarger hand out the smallest cached block that fits, however much larger, whole (a pool
     *                       sized once for the largest batch then serves every smaller one without new blocks:
     *                       the host pools); false: the device policy, blocks split and merged as above
     */
    public CachingAllocator(RawDeviceMemory raw, boolean reuseAnyLarger) {
        this(raw, reuseAnyLarger, () -> DEFAULT_STREAM);
    }

    /**
     * The device policy on several streams: {@code currentStream} names the calling thread's stream (an id, not an
     * address: ids are never reused, so a new stream cannot inherit a destroyed one's pending work).
     */
    public CachingAllocator(RawDeviceMemory raw, LongSupplier currentStream) {
        this(raw, false, currentStream);
    }

    private CachingAllocator(RawDeviceMemory raw, boolean reuseAnyLarger, LongSupplier currentStream) {
        this.raw = raw;
        this.split = !reuseAnyLarger;
        this.currentStream = java.util.Objects.requireNonNull(currentStream, "currentStream");
    }

    private FreeBlocks cacheOf(long stream) {
        return caches.computeIfAbsent(stream, s -> new FreeBlocks());
    }

    /**
     * Statistics of one allocator; bytes are block sizes (requests rounded to 512 B): {@code peakInUseBytes} is
     * PyTorch's {@code max_memory_allocated}, {@code peakReservedBytes} its {@code max_memory_reserved} (segments
     * taken from the device, at most).
     */
    public record Stats(long inUseBytes, long cachedBytes, long peakInUseBytes, long liveBlocks, long requests,
            long cacheHits, long deviceAllocs, long deviceFrees, long pooledBytes, long peakReservedBytes) {
        /** In use, cached, and held free by private (graph) pools: every segment taken from the device. */
        public long reservedBytes() {
            return inUseBytes + cachedBytes + pooledBytes;
        }
    }

    /** A request's block size: rounded up to 512 B (the host pools' whole blocks: to 2 MiB from 1 MiB up). */
    public static long roundUp(long bytes) {
        long b = Math.max(bytes, 1);
        return (b + ROUND - 1) / ROUND * ROUND;
    }

    /** The size of the segment a new request of block size {@code size} takes from the device. */
    private long segmentSize(long size) {
        if (!split) {
            return size < SMALL ? size : (size + SEGMENT_ROUND - 1) / SEGMENT_ROUND * SEGMENT_ROUND;
        }
        return size < SMALL ? SEGMENT_ROUND : (size + SEGMENT_ROUND - 1) / SEGMENT_ROUND * SEGMENT_ROUND;
    }

    /** A block of at least {@code bytes}; never returns 0. */
    public synchronized long allocate(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative allocation " + bytes);
        }
        requests++;
        long size = roundUp(bytes);
        boolean small = size < SMALL;
        Pool pool = capturing != null && Thread.currentThread() == captureThread ? capturing : null;
        long stream = currentStream.getAsLong();
        FreeBlocks shared = cacheOf(stream);
        Block b = null;
        FreeBlocks from = null;
        if (pool != null) {
            // a capture reuses its own pool's blocks first: they are the graph's, in the graph's order
            b = bestFit(pool.free, size, small);
            from = pool.free;
        }
        if (b == null) {
            b = bestFit(shared, size, small);
            from = shared;
        }
        if (b != null) {
            from.remove(b);
            cacheHits++;
        } else {
            long segSize = segmentSize(size);
            long base = deviceMalloc(segSize, bytes);
            deviceAllocs++;
            reserved += segSize;
            peakReserved = Math.max(peakReserved, reserved);
            b = new Block(new Segment(base, segSize, small, stream), base, segSize);
            from = shared; // the rest of a new segment is its stream's cache's
        }
        if (split) {
            long rest = b.size - size;
            if (rest >= (small ? ROUND : SMALL)) {
                Block r = new Block(b.segment, b.addr + size, rest);
                r.owner = b.owner;
                r.prev = b;
                r.next = b.next;
                if (b.next != null) {
                    b.next.prev = r;
                }
                b.next = r;
                b.size = size;
                from.add(r);
            }
        }
        if (pool != null && b.owner != pool) {
            b.owner = pool;
            pool.blocks++;
        }
        b.allocated = true;
        live.put(b.addr, b);
        inUse += b.size;
        peakInUse = Math.max(peakInUse, inUse);
        return b.addr;
    }

    private Block bestFit(FreeBlocks free, long size, boolean small) {
        if (split) {
            return free.bestFit(small, size, Long.MAX_VALUE);
        }
        // whole blocks of either kind, the smallest that fits
        Block a = free.bestFit(true, size, Long.MAX_VALUE);
        Block c = free.bestFit(false, size, Long.MAX_VALUE);
        return a == null ? c : c == null || a.size <= c.size ? a : c;
    }

    private long deviceMalloc(long size, long bytes) {
        long block = raw.malloc(size);
        if (block == 0 && capturing == null) {
            // not during a CUDA graph capture: cudaFree synchronises the device, which invalidates the capture
            releaseCached();
            block = raw.malloc(size);
        }
        if (block == 0) {
            throw new DeviceOutOfMemoryException(raw.deviceName(), bytes, raw.freeBytes(), inUse, raw.totalBytes());
        }
        return block;
    }

    /** Returns a block to the cache, or to its private pool while that pool is open. */
    public synchronized void free(long block) {
        Block b = live.remove(block);
        if (b == null) {
            throw new IllegalStateException("free of a block this allocator does not own: 0x" + Long.toHexString(block));
        }
        inUse -= b.size;
        b.allocated = false;
        if (b.owner != null && b.owner.closed) {
            b.owner = null;
        }
        release(b);
    }

    /** Lists the free block {@code b} with its owner, merged with free neighbours of the same owner. */
    private void release(Block b) {
        FreeBlocks to = b.owner == null ? cacheOf(b.segment.stream) : b.owner.free;
        if (split) {
            Block p = b.prev;
            if (p != null && !p.allocated && p.owner == b.owner) {
                to.remove(p);
                b.addr = p.addr;
                b.size += p.size;
                b.prev = p.prev;
                if (p.prev != null) {
                    p.prev.next = b;
                }
            }
            Block n = b.next;
            if (n != null && !n.allocated && n.owner == b.owner) {
                to.remove(n);
                b.size += n.size;
                b.next = n.next;
                if (n.next != null) {
                    n.next.prev = b;
                }
            }
        }
        to.add(b);
    }

    /**
     * A private pool for capturing work into a CUDA graph (PyTorch's graph memory pool): while the pool captures
     * on a thread, that thread's allocations come from the pool's own free blocks first, then from the cache or the
     * device, and every block so obtained belongs to the pool; a pool block freed (during or after the capture)
     * goes back to the pool, never to the shared cache, so what a graph reads and writes on replay is never handed
     * to anyone else. Several graphs replayed one after another on one stream may share a pool. {@link Pool#close}
     * returns the pool's free blocks to the cache and hands its still-live blocks to the cache when they are freed.
     * A block split off a cached one keeps its neighbour's owner; blocks merge only with blocks of the same owner.
     */
    public final class Pool implements AutoCloseable {
        private final FreeBlocks free = new FreeBlocks();
        private long blocks;
        private boolean closed;

        private Pool() {
        }

        /** Bytes the pool holds for its graphs (blocks not in use by a live tensor). */
        public long freeBytes() {
            synchronized (CachingAllocator.this) {
                return free.bytes;
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
                List<Block> mine = new ArrayList<>(free.small);
                mine.addAll(free.large);
                for (Block b : mine) {
                    free.remove(b);
                }
                // one at a time: a block merges with shared neighbours (and pool blocks handed over before it),
                // never with a pool block still to come, whose owner is still this pool
                for (Block b : mine) {
                    b.owner = null;
                    release(b);
                }
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

    /** Whether the calling thread is capturing into a pool (between {@link #beginCapture} and {@link #endCapture}). */
    public synchronized boolean capturingOnThisThread() {
        return capturing != null && captureThread == Thread.currentThread();
    }

    public synchronized void endCapture() {
        if (capturing == null || captureThread != Thread.currentThread()) {
            throw new IllegalStateException("no capture running on this thread");
        }
        capturing = null;
        captureThread = null;
    }

    /**
     * Gives every wholly free cached segment back to the device (segments with a live or pooled block stay). Does
     * nothing while a CUDA graph capture runs (a cudaFree would invalidate it).
     */
    public synchronized void releaseCached() {
        if (capturing != null) {
            return;
        }
        List<Block> whole = new ArrayList<>();
        for (FreeBlocks cache : caches.values()) {
            for (TreeSet<Block> set : List.of(cache.small, cache.large)) {
                for (Block b : set) {
                    if (b.prev == null && b.next == null) {
                        whole.add(b);
                    }
                }
            }
        }
        for (Block b : whole) {
            caches.get(b.segment.stream).remove(b);
            raw.free(b.segment.base());
            deviceFrees++;
            reserved -= b.segment.size();
        }
    }

    public synchronized Stats stats() {
        long pooled = 0;
        for (Pool p : openPools) {
            pooled += p.free.bytes;
        }
        long cached = 0;
        for (FreeBlocks cache : caches.values()) {
            cached += cache.bytes;
        }
        return new Stats(inUse, cached, peakInUse, live.size(), requests, cacheHits, deviceAllocs, deviceFrees,
                pooled, peakReserved);
    }

    /**
     * Hands every segment of {@code stream} to the default stream: its cached blocks join the default stream's cache,
     * and its live blocks go there when freed. Call it once the stream's queued work is done and it will queue no
     * more (a worker's stream being destroyed), so that its memory is not stranded in a cache nobody asks.
     */
    public synchronized void retireStream(long stream) {
        if (stream == DEFAULT_STREAM) {
            throw new IllegalArgumentException("the default stream is never retired");
        }
        FreeBlocks cache = caches.remove(stream);
        List<Block> mine = new ArrayList<>();
        if (cache != null) {
            mine.addAll(cache.small);
            mine.addAll(cache.large);
        }
        java.util.Set<Segment> segments = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Block b : mine) {
            segments.add(b.segment);
        }
        for (Block b : live.values()) {
            if (b.segment.stream == stream) {
                segments.add(b.segment);
            }
        }
        for (Pool p : openPools) {
            for (TreeSet<Block> set : List.of(p.free.small, p.free.large)) {
                for (Block b : set) {
                    if (b.segment.stream == stream) {
                        segments.add(b.segment);
                    }
                }
            }
        }
        for (Segment s : segments) {
            s.stream = DEFAULT_STREAM;
        }
        FreeBlocks to = cacheOf(DEFAULT_STREAM);
        for (Block b : mine) {
            to.add(b);
        }
    }

    /** Bytes cached for requests on {@code stream} (free blocks of its segments, outside any pool). */
    public synchronized long cachedBytes(long stream) {
        FreeBlocks cache = caches.get(stream);
        return cache == null ? 0 : cache.bytes;
    }

    /** Restarts both peaks from the current figures. */
    public synchronized void resetPeak() {
        peakInUse = inUse;
        peakReserved = reserved;
    }

    public RawDeviceMemory raw() {
        return raw;
    }
}
