package dev.sevnet.data;

import java.util.Random;

/**
 * TSN segment sampling (Something-Something, FineGym): the video is cut into T equal segments;
 * training takes one random frame from each segment, testing each segment's middle frame (or, for
 * V views, the V evenly spaced offsets inside every segment).
 *
 * <p>Videos shorter than T frames: segments are then narrower than one frame and their frames are
 * clamped to the segment start, so frames repeat in order (no looping back to the start).
 */
public record TsnSampler(int segments) implements FrameSampler {
    public TsnSampler {
        if (segments <= 0) {
            throw new IllegalArgumentException("segments must be positive, got " + segments);
        }
    }

    @Override
    public int clipLength() {
        return segments;
    }

    @Override
    public int[] sampleTrain(int frameCount, Random rng) {
        checkCount(frameCount);
        int[] out = new int[segments];
        for (int i = 0; i < segments; i++) {
            int start = (int) ((long) i * frameCount / segments);
            int end = (int) ((long) (i + 1) * frameCount / segments);
            out[i] = start + rng.nextInt(Math.max(1, end - start));
            out[i] = Math.min(out[i], frameCount - 1);
        }
        return out;
    }

    @Override
    public int[] sampleTest(int frameCount, int view, int views) {
        checkCount(frameCount);
        checkView(view, views);
        double segmentLength = (double) frameCount / segments;
        int[] out = new int[segments];
        for (int i = 0; i < segments; i++) {
            double pos = segmentLength * (i + (view + 0.5) / views);
            out[i] = Math.min(frameCount - 1, (int) pos);
        }
        return out;
    }

    static void checkCount(int frameCount) {
        if (frameCount <= 0) {
            throw new IllegalArgumentException("cannot sample a clip from " + frameCount + " frames");
        }
    }

    static void checkView(int view, int views) {
        if (views <= 0 || view < 0 || view >= views) {
            throw new IllegalArgumentException("view " + view + " of " + views);
        }
    }
}
