package dev.sevnet.data;

/** Derives independent 64-bit seeds from a run seed and coordinates (SplitMix64 finaliser). */
public final class Seeds {
    private Seeds() {
    }

    public static long mix(long seed, long... coordinates) {
        long h = scramble(seed ^ 0x9E3779B97F4A7C15L);
        for (long c : coordinates) {
            h = scramble(h + 0x9E3779B97F4A7C15L + scramble(c));
        }
        return h;
    }

    private static long scramble(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
