package dev.sevnet.tensor;

import java.util.concurrent.atomic.AtomicLong;

/** Counters of live native memory, so tests and long runs can prove that nothing leaks. */
public final class MemoryStats {
    private static final AtomicLong HOST_BYTES = new AtomicLong();
    private static final AtomicLong HOST_BLOCKS = new AtomicLong();
    private static final AtomicLong HOST_PEAK = new AtomicLong();

    private MemoryStats() {
    }

    static void onHostAlloc(long bytes) {
        HOST_BLOCKS.incrementAndGet();
        long now = HOST_BYTES.addAndGet(bytes);
        HOST_PEAK.accumulateAndGet(now, Math::max);
    }

    static void onHostFree(long bytes) {
        HOST_BLOCKS.decrementAndGet();
        HOST_BYTES.addAndGet(-bytes);
    }

    public static long liveHostBytes() {
        return HOST_BYTES.get();
    }

    public static long liveHostBlocks() {
        return HOST_BLOCKS.get();
    }

    public static long peakHostBytes() {
        return HOST_PEAK.get();
    }

    public static void resetPeak() {
        HOST_PEAK.set(HOST_BYTES.get());
    }
}
