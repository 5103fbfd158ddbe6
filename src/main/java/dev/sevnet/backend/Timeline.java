package dev.sevnet.backend;

import java.util.Arrays;

/**
 * Marks on a device's timeline and the time between them, read once the work is done: CUDA events on the calling
 * thread's stream on a GPU (device time, gaps where the device waited for the host included); the host clock on the
 * CPU, whose ops return when they are done. What {@link OpProfiler} measures with. Not thread-safe; close it.
 */
public interface Timeline extends AutoCloseable {

    /** Marks now: on a GPU, a point in the stream's queue after everything queued so far. */
    void mark();

    /** Milliseconds between each mark and the next (one fewer than the marks), after waiting for the work. */
    double[] intervalsMillis();

    @Override
    void close();

    /** A timeline on the host clock (System.nanoTime at each mark). */
    static Timeline hostClock() {
        return new Timeline() {
            private long[] at = new long[64];
            private int n;

            @Override
            public void mark() {
                if (n == at.length) {
                    at = Arrays.copyOf(at, n * 2);
                }
                at[n++] = System.nanoTime();
            }

            @Override
            public double[] intervalsMillis() {
                double[] ms = new double[Math.max(0, n - 1)];
                for (int i = 0; i < ms.length; i++) {
                    ms[i] = (at[i + 1] - at[i]) / 1e6;
                }
                return ms;
            }

            @Override
            public void close() {
            }
        };
    }
}
