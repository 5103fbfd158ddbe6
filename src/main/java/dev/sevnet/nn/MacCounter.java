package dev.sevnet.nn;

/** Adds up multiply-accumulates while {@link Module#outputShape} walks a module tree. */
public final class MacCounter {
    private long total;

    public void add(long macs) {
        if (macs < 0) {
            throw new IllegalArgumentException("negative MAC count " + macs);
        }
        total = Math.addExact(total, macs);
    }

    public long total() {
        return total;
    }
}
