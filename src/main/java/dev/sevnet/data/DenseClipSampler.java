package dev.sevnet.data;

import java.util.Random;

/**
 * Kinetics-style dense clips (mmaction2's {@code SampleFrames}): {@code clipLength} frames every
 * {@code interval} frames, i.e. from a window of {@code clipLength * interval} consecutive frames
 * (16 from 64 by default). Training starts the window at a uniformly random frame; testing places
 * V windows evenly over the video (mmaction2 0.x's offsets, truncated: {@code (i + 1/2) * (n - window + 1) / V}).
 * mmaction2 1.x moved to PySlowFast's placement, which this does not follow: {@code round(i * (n - w) / (V - 1))}
 * for V &gt; 1 and {@code (n - w) / 2} for one clip, with {@code w = (clipLength - 1) * interval + 1}.
 *
 * <p>Videos shorter than the window: the window starts at frame 0 and indices past the end loop
 * back to the start (mmaction2's default {@code out_of_bound_opt='loop'}).
 */
public record DenseClipSampler(int clipLength, int interval) implements FrameSampler {
    public DenseClipSampler {
        if (clipLength <= 0 || interval <= 0) {
            throw new IllegalArgumentException("clip length and interval must be positive, got "
                    + clipLength + ", " + interval);
        }
    }

    /** 16 frames out of 64, the paper's Kinetics setting. */
    public static DenseClipSampler kinetics() {
        return new DenseClipSampler(16, 4);
    }

    /** Frames spanned by one clip's window. */
    public int window() {
        return clipLength * interval;
    }

    @Override
    public int[] sampleTrain(int frameCount, Random rng) {
        TsnSampler.checkCount(frameCount);
        int slack = frameCount - window() + 1;
        return clipAt(frameCount, slack > 0 ? rng.nextInt(slack) : 0);
    }

    @Override
    public int[] sampleTest(int frameCount, int view, int views) {
        TsnSampler.checkCount(frameCount);
        TsnSampler.checkView(view, views);
        int slack = frameCount - window() + 1;
        if (slack <= 0) {
            return clipAt(frameCount, 0);
        }
        double step = (double) slack / views;
        return clipAt(frameCount, (int) (step * view + step / 2));
    }

    private int[] clipAt(int frameCount, int start) {
        int[] out = new int[clipLength];
        for (int j = 0; j < clipLength; j++) {
            out[j] = (start + j * interval) % frameCount;
        }
        return out;
    }
}
