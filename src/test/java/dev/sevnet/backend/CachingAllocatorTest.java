package dev.sevnet.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The caching allocator's bookkeeping, through a fake device memory (no GPU needed). */
class CachingAllocatorTest {
    /** A device of {@code capacity} bytes that hands out increasing addresses. */
    static final class FakeDevice implements RawDeviceMemory {
        final long capacity;
        long used;
        long next = 0x1000;
        int mallocs;
        int frees;
        final java.util.Map<Long, Long> blocks = new java.util.HashMap<>();

        FakeDevice(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public long malloc(long bytes) {
            if (used + bytes > capacity) {
                return 0;
            }
            mallocs++;
            used += bytes;
            long a = next;
            next += bytes;
            blocks.put(a, bytes);
            return a;
        }

        @Override
        public void free(long address) {
            frees++;
            used -= blocks.remove(address);
        }

        @Override
        public long freeBytes() {
            return capacity - used;
        }

        @Override
        public long totalBytes() {
            return capacity;
        }

        @Override
        public String deviceName() {
            return "fake:0";
        }
    }

    @Test
    void aStepReusesCachedBlocksWithoutTouchingTheDevice() {
        FakeDevice d = new FakeDevice(1L << 34);
        CachingAllocator a = new CachingAllocator(d);
        long[] sizes = {100, 4096, 3 << 20, 17 << 20, 1000, 3 << 20};
        for (int step = 0; step < 5; step++) {
            long[] blocks = new long[sizes.length];
            for (int i = 0; i < sizes.length; i++) {
                blocks[i] = a.allocate(sizes[i]);
            }
            for (long b : blocks) {
                a.free(b);
            }
        }
        // the first step takes four segments: one 2 MiB segment cut into the three small blocks, one each for the
        // large ones (the 1 MiB left of the first 3 MiB one is too small for the second); later steps none
        assertEquals(4, d.mallocs, "only the first step allocates on the device");
        CachingAllocator.Stats s = a.stats();
        assertEquals(0, s.inUseBytes());
        assertEquals(30, s.requests());
        assertEquals(26, s.cacheHits());
        assertTrue(s.cachedBytes() > 0);
        a.releaseCached();
        assertEquals(0, d.used, "releaseCached gives everything back");
        assertEquals(0, a.stats().cachedBytes());
    }

    @Test
    void requestsAreCutFromCachedBlocksAndMergeBackWhenFreed() {
        assertEquals(512, CachingAllocator.roundUp(1));
        assertEquals(1024, CachingAllocator.roundUp(513));
        assertEquals((1L << 20) + 512, CachingAllocator.roundUp((1L << 20) + 1));
        FakeDevice d = new FakeDevice(1L << 34);
        CachingAllocator a = new CachingAllocator(d);
        long big = a.allocate(64L << 20);
        a.free(big);
        long x = a.allocate(8L << 20);
        long y = a.allocate(40L << 20);
        long z = a.allocate(16L << 20);
        assertEquals(1, d.mallocs, "8 + 40 + 16 MiB are cut from the cached 64 MiB segment");
        assertEquals(big, x);
        assertEquals(big + (8L << 20), y);
        assertEquals(big + (48L << 20), z);
        assertEquals(64L << 20, a.stats().inUseBytes());
        assertEquals(0, a.stats().cachedBytes());
        a.free(y);
        assertEquals(40L << 20, a.stats().cachedBytes());
        assertEquals(y, a.allocate(40L << 20), "the freed middle block serves its own size again");
        a.free(big + (8L << 20));
        a.free(x);
        a.free(z);
        a.releaseCached();
        assertEquals(0, d.used, "the three blocks merged back into one free segment, released whole");
        assertEquals(1, d.frees);
        // small requests never take (or pin) a large segment
        long large = a.allocate(4L << 20);
        a.free(large);
        long small = a.allocate(4096);
        assertNotEquals(large, small, "a 4 KiB request comes from a small segment");
        assertEquals(CachingAllocator.SEGMENT_ROUND + (4L << 20), a.stats().reservedBytes());
    }

    @Test
    void aRandomSequenceKeepsBlocksDisjointAndTheBooksBalanced() {
        FakeDevice d = new FakeDevice(1L << 40);
        CachingAllocator a = new CachingAllocator(d);
        java.util.Random r = new java.util.Random(3);
        java.util.TreeMap<Long, Long> held = new java.util.TreeMap<>();
        for (int i = 0; i < 20000; i++) {
            if (held.isEmpty() || r.nextInt(100) < 55) {
                long bytes = r.nextBoolean() ? 1 + r.nextInt(1 << 20) : (1L << 20) + r.nextInt(64 << 20);
                long b = a.allocate(bytes);
                assertTrue(b != 0);
                var below = held.floorEntry(b);
                assertTrue(below == null || below.getKey() + below.getValue() <= b, "overlaps the block below");
                var above = held.ceilingEntry(b);
                assertTrue(above == null || b + bytes <= above.getKey(), "overlaps the block above");
                held.put(b, bytes);
            } else {
                Long k = held.keySet().stream().skip(r.nextInt(held.size())).findFirst().orElseThrow();
                held.remove(k);
                a.free(k);
            }
            CachingAllocator.Stats s = a.stats();
            if (i % 1000 == 0) {
                assertEquals(d.used, s.reservedBytes(), "reserved = what the device handed out");
            }
        }
        for (long b : held.keySet()) {
            a.free(b);
        }
        assertEquals(0, a.stats().inUseBytes());
        a.releaseCached();
        assertEquals(0, d.used, "every segment merged back whole and was released");
        assertEquals(0, a.stats().cachedBytes());
    }

    @Test
    void outOfMemoryReleasesTheCacheRetriesThenNamesTheRequest() {
        FakeDevice d = new FakeDevice(100L << 20);
        CachingAllocator a = new CachingAllocator(d);
        long b1 = a.allocate(60L << 20);
        a.free(b1); // cached, not on the device's free list
        long b2 = a.allocate(70L << 20); // does not fit beside the cached block: cache released, retried
        assertEquals(1, d.frees);
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> a.allocate(50L << 20));
        assertTrue(e.getMessage().contains("fake:0") && e.getMessage().contains("50.0 MiB"), e.getMessage());
        assertEquals(50L << 20, e.requestedBytes());
        a.free(b2);
        long b3 = a.allocate(50L << 20); // usable again once memory was freed
        a.free(b3);
        assertEquals(0, a.stats().inUseBytes());
    }

    @Test
    void freeingForeignOrTwiceIsAnError() {
        CachingAllocator a = new CachingAllocator(new FakeDevice(1L << 30));
        long b = a.allocate(10);
        a.free(b);
        assertThrows(IllegalStateException.class, () -> a.free(b));
        assertThrows(IllegalStateException.class, () -> a.free(12345));
        assertThrows(IllegalArgumentException.class, () -> a.allocate(-1));
    }

    @Test
    void liveBlocksAreDistinctAndPeakIsTracked() {
        CachingAllocator a = new CachingAllocator(new FakeDevice(1L << 30));
        Set<Long> seen = new HashSet<>();
        long expected = 0;
        for (int i = 0; i < 50; i++) {
            assertTrue(seen.add(a.allocate(1000 + i)));
            expected += CachingAllocator.roundUp(1000 + i);
        }
        long peak = a.stats().peakInUseBytes();
        assertEquals(25 * 1024 + 25 * 1536, expected);
        assertEquals(expected, peak);
        for (long b : seen) {
            a.free(b);
        }
        assertEquals(peak, a.stats().peakInUseBytes());
        a.resetPeak();
        assertEquals(0, a.stats().peakInUseBytes());
    }

    // ---- private pools (CUDA graph capture) ----

    @Test
    void aCaptureTakesBlocksIntoItsPoolAndNeverGivesThemToOthers() throws Exception {
        CachingAllocator a = new CachingAllocator(new FakeDevice(1L << 30));
        long before = a.allocate(4096);
        a.free(before);                                    // one cached 4 KiB block
        CachingAllocator.Pool pool = a.newPool();
        a.beginCapture(pool);
        long x = a.allocate(4096);                         // from the shared cache, now the pool's
        assertEquals(before, x);
        long y = a.allocate(4096);                         // cut from the cached rest of the segment, the pool's
        a.free(x);                                         // back to the pool, not to the cache
        long z = a.allocate(4096);                         // the capture reuses its own block
        assertEquals(x, z);
        // another thread allocating during the capture is served by the shared cache, not the pool
        long[] other = new long[1];
        Thread t = new Thread(() -> other[0] = a.allocate(4096));
        t.start();
        t.join();
        assertNotEquals(x, other[0]);
        assertNotEquals(y, other[0]);
        a.endCapture();
        a.free(y);
        a.free(z);
        assertEquals(2 * 4096, pool.freeBytes());
        assertEquals(2 * 4096, a.stats().pooledBytes());
        // the rest of the one small segment, less the other thread's live block
        assertEquals(CachingAllocator.SEGMENT_ROUND - 3 * 4096, a.stats().cachedBytes());
        // outside the capture nobody gets the pool's blocks
        long w = a.allocate(4096);
        assertTrue(w != x && w != y, "a pool block was handed out after the capture");
        a.free(w);
        a.free(other[0]);
        assertEquals(2, pool.blocks());
        long reserved = a.stats().reservedBytes();
        pool.close();                                      // the pool's blocks go to the shared cache
        assertEquals(0, a.stats().pooledBytes());
        assertEquals(reserved, a.stats().reservedBytes());
        Set<Long> got = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            got.add(a.allocate(4096));
        }
        assertTrue(got.contains(x) && got.contains(y));
    }

    @Test
    void aBlockStillLiveWhenItsPoolClosesGoesToTheCacheWhenFreed() {
        CachingAllocator a = new CachingAllocator(new FakeDevice(1L << 30));
        CachingAllocator.Pool pool = a.newPool();
        a.beginCapture(pool);
        long out = a.allocate(3L << 20);                   // a graph's output, alive after the capture
        a.endCapture();
        pool.close();
        a.free(out);
        assertEquals(4L << 20, a.stats().cachedBytes(), "the block merged with the rest of its 4 MiB segment");
        assertEquals(0, a.stats().pooledBytes());
        assertEquals(out, a.allocate(3L << 20));
    }

    @Test
    void outOfMemoryDuringACaptureReleasesNothing() {
        FakeDevice d = new FakeDevice(100L << 20);
        CachingAllocator a = new CachingAllocator(d);
        a.free(a.allocate(60L << 20)); // a wholly free cached segment
        CachingAllocator.Pool pool = a.newPool();
        a.beginCapture(pool);
        // a cudaFree now would invalidate the capture: the request fails instead of releasing the cache
        assertThrows(DeviceOutOfMemoryException.class, () -> a.allocate(70L << 20));
        a.releaseCached();
        assertEquals(0, d.frees, "nothing given back to the device while capturing");
        a.endCapture();
        long b = a.allocate(70L << 20); // after the capture the usual release-and-retry works
        assertEquals(1, d.frees);
        a.free(b);
        pool.close();
    }

    @Test
    void captureMisuseIsAnError() throws Exception {
        CachingAllocator a = new CachingAllocator(new FakeDevice(1L << 30));
        CachingAllocator.Pool p = a.newPool();
        assertThrows(IllegalStateException.class, a::endCapture);
        a.beginCapture(p);
        assertThrows(IllegalStateException.class, () -> a.beginCapture(a.newPool()));
        assertThrows(IllegalStateException.class, p::close);
        Throwable[] fromOther = new Throwable[1];
        Thread t = new Thread(() -> {
            try {
                a.endCapture();
            } catch (Throwable e) {
                fromOther[0] = e;
            }
        });
        t.start();
        t.join();
        assertTrue(fromOther[0] instanceof IllegalStateException, "another thread ended the capture");
        a.endCapture();
        p.close();
        p.close();                                          // idempotent
        assertThrows(IllegalArgumentException.class, () -> a.beginCapture(p));
        assertThrows(IllegalArgumentException.class, () -> a.beginCapture(null));
    }

    /** The calling thread's stream, as a {@code CudaDevice} would report it. */
    private static final ThreadLocal<long[]> STREAM = ThreadLocal.withInitial(() -> new long[] {CachingAllocator.DEFAULT_STREAM});

    private static CachingAllocator onStreams(FakeDevice d) {
        return new CachingAllocator(d, () -> STREAM.get()[0]);
    }

    private static void onStream(long id) {
        STREAM.get()[0] = id;
    }

    @Test
    void aBlockFreedOnOneStreamIsNeverHandedToAnother() {
        FakeDevice d = new FakeDevice(1L << 34);
        CachingAllocator a = onStreams(d);
        try {
            onStream(1);
            long x = a.allocate(8L << 20);
            long small = a.allocate(4096);
            a.free(x);
            a.free(small);
            assertEquals((8L << 20) + CachingAllocator.SEGMENT_ROUND, a.cachedBytes(1));
            onStream(2);
            long y = a.allocate(8L << 20);
            long small2 = a.allocate(4096);
            assertNotEquals(x, y, "stream 2 does not get stream 1's freed block: work queued on 1 may still read it");
            assertNotEquals(small, small2);
            assertEquals(4, d.mallocs);
            onStream(1);
            assertEquals(x, a.allocate(8L << 20), "stream 1 reuses its own block");
            assertEquals(small, a.allocate(4096));
            assertEquals(4, d.mallocs);
            // a block freed by another thread goes back to the stream its segment was taken on
            onStream(CachingAllocator.DEFAULT_STREAM);
            long before = a.cachedBytes(2);
            a.free(y);
            assertEquals(before + (8L << 20), a.cachedBytes(2));
            assertEquals(0, a.cachedBytes(CachingAllocator.DEFAULT_STREAM));
            a.free(small2);
            a.free(x);
            a.free(small);
            assertEquals(2 * ((8L << 20) + CachingAllocator.SEGMENT_ROUND), a.stats().cachedBytes());
            a.releaseCached();
            assertEquals(0, d.used, "releaseCached empties every stream's cache");
        } finally {
            onStream(CachingAllocator.DEFAULT_STREAM);
        }
    }

    @Test
    void aRetiredStreamsSegmentsServeTheDefaultStream() {
        FakeDevice d = new FakeDevice(1L << 34);
        CachingAllocator a = onStreams(d);
        try {
            onStream(7);
            long cached = a.allocate(8L << 20);
            long alive = a.allocate(16L << 20);
            a.free(cached);
            onStream(CachingAllocator.DEFAULT_STREAM);
            a.retireStream(7);
            assertEquals(0, a.cachedBytes(7));
            assertEquals(8L << 20, a.cachedBytes(CachingAllocator.DEFAULT_STREAM));
            assertEquals(cached, a.allocate(8L << 20), "the retired stream's cached block serves the default stream");
            a.free(alive);
            assertEquals(16L << 20, a.cachedBytes(CachingAllocator.DEFAULT_STREAM),
                    "a block still live at retirement joins the default stream's cache when freed");
            assertEquals(0, a.cachedBytes(7));
            onStream(7);
            long fresh = a.allocate(16L << 20);
            assertNotEquals(alive, fresh, "a stream reusing the retired id starts with an empty cache");
            assertThrows(IllegalArgumentException.class, () -> a.retireStream(CachingAllocator.DEFAULT_STREAM));
            a.free(fresh);
            onStream(CachingAllocator.DEFAULT_STREAM);
            a.free(cached);
            a.releaseCached();
            assertEquals(0, d.used);
            assertEquals(0, a.stats().inUseBytes());
        } finally {
            onStream(CachingAllocator.DEFAULT_STREAM);
        }
    }

    @Test
    void workersOnTheirOwnStreamsKeepTheBooksBalanced() throws Exception {
        FakeDevice d = new FakeDevice(1L << 36);
        CachingAllocator a = onStreams(d);
        int workers = 4;
        Set<Long> liveEverywhere = java.util.concurrent.ConcurrentHashMap.newKeySet();
        Throwable[] failure = new Throwable[1];
        Thread[] threads = new Thread[workers];
        for (int w = 0; w < workers; w++) {
            long stream = w + 1;
            threads[w] = new Thread(() -> {
                onStream(stream);
                java.util.Random r = new java.util.Random(stream);
                java.util.List<Long> mine = new java.util.ArrayList<>();
                try {
                    for (int i = 0; i < 2000; i++) {
                        if (mine.isEmpty() || r.nextInt(3) > 0) {
                            long b = a.allocate(r.nextBoolean() ? 1 + r.nextInt(1 << 16) : 1 + r.nextInt(8 << 20));
                            assertTrue(liveEverywhere.add(b), "a live block was handed out twice");
                            mine.add(b);
                        } else {
                            long b = mine.remove(r.nextInt(mine.size()));
                            liveEverywhere.remove(b);
                            a.free(b);
                        }
                    }
                    for (long b : mine) {
                        liveEverywhere.remove(b);
                        a.free(b);
                    }
                } catch (Throwable e) {
                    synchronized (failure) {
                        failure[0] = e;
                    }
                }
            });
            threads[w].start();
        }
        for (Thread t : threads) {
            t.join();
        }
        if (failure[0] != null) {
            throw new AssertionError(failure[0]);
        }
        assertEquals(0, a.stats().inUseBytes());
        long sum = 0;
        for (long s = 1; s <= workers; s++) {
            assertTrue(a.cachedBytes(s) > 0, "stream " + s + " kept its own cache");
            sum += a.cachedBytes(s);
            a.retireStream(s);
        }
        assertEquals(sum, a.cachedBytes(CachingAllocator.DEFAULT_STREAM));
        a.releaseCached();
        assertEquals(0, d.used, "every segment merged back whole and was released");
    }
}
