package dev.sevnet.train;

/**
 * The paper's learning-rate schedule, evaluated per optimizer step: a linear warm-up over the first
 * {@code warmupEpochs} epochs, then a cosine decay to 0 at the end of training.
 *
 * <p>With {@code S} steps per epoch, {@code W = warmupEpochs * S} warm-up steps and
 * {@code N = epochs * S} steps in all, the rate used by step {@code s} (0-based) is
 * <ul>
 *   <li>{@code base * (s + 1) / W} for {@code s < W} (it reaches {@code base} on the last warm-up step);</li>
 *   <li>{@code base * 0.5 * (1 + cos(pi * (s - W) / (N - W)))} after that (exactly {@code base} on the
 *       first step after warm-up, approaching 0 on the last).</li>
 * </ul>
 * The base rate follows the paper's linear scaling rule: 0.01 per 8 clips, scaled with the effective
 * batch ({@code batch * accum}); see {@link #scaledBaseLr}.
 */
public final class LrSchedule {
    /** The paper's learning rate for a batch of 8 clips (one GPU). */
    public static final double LR_PER_8_CLIPS = 0.01;

    private final double baseLr;
    private final long warmupSteps;
    private final long totalSteps;

    public LrSchedule(double baseLr, double warmupEpochs, int epochs, long stepsPerEpoch) {
        if (baseLr < 0 || epochs <= 0 || stepsPerEpoch <= 0 || warmupEpochs < 0) {
            throw new IllegalArgumentException("bad schedule: lr " + baseLr + ", epochs " + epochs + ", steps/epoch "
                    + stepsPerEpoch + ", warm-up " + warmupEpochs);
        }
        this.baseLr = baseLr;
        this.totalSteps = epochs * stepsPerEpoch;
        this.warmupSteps = Math.min(Math.round(warmupEpochs * stepsPerEpoch), totalSteps);
    }

    /** 0.01 x effectiveBatch / 8. */
    public static double scaledBaseLr(int effectiveBatch) {
        return LR_PER_8_CLIPS * effectiveBatch / 8.0;
    }

    public double baseLr() {
        return baseLr;
    }

    public long totalSteps() {
        return totalSteps;
    }

    public long warmupSteps() {
        return warmupSteps;
    }

    /** The learning rate of optimizer step {@code step} (0-based). */
    public double lr(long step) {
        if (step < warmupSteps) {
            return baseLr * (step + 1) / warmupSteps;
        }
        long decay = totalSteps - warmupSteps;
        if (decay <= 0) {
            return baseLr;
        }
        double p = Math.min(1.0, (step - warmupSteps) / (double) decay);
        return baseLr * 0.5 * (1 + Math.cos(Math.PI * p));
    }
}
