package dev.sevnet.data;

import java.util.Random;

/**
 * TSN segment sampling (Something-Something, FineGym): the video is cut into T equal segments;
 * training takes one random frame from each segment, testing each segment's middle frame (or, for
 * V views, the V evenly spaced offsets inside every segment).
 *
 * <p>Videos shorter than T frames: segments are then narrower than one frame and their frames are
 * clamped to the segment start, so frames repeat in order (no looping back to the start).
 *
 * <p>Training segments are the real-valued T equal parts of the video ({@code [floor(i n / T), floor((i + 1) n / T))}),
 * so every frame can be drawn. mmaction2's {@code SampleFrames} (and TSN/TSM's code) use segments of
 * {@code n // T} frames from frame 0 instead, which never draws the last {@code n mod T} frames, and for
 * {@code n < T} take {@code round(i n / T)} rather than the segment start. Test offsets are mmaction2's.
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
        // mmaction2's SampleFrames._get_test_clips (clip_len 1): int(i * avg + avg / 2) in doubles, written the same
        // way so that a centre falling exactly on a frame boundary truncates as mmaction2's does (24 segments, 16 or
        // 64 frames); V views generalise avg / 2 to avg * (v + 1/2) / V, identical to it for one view
        double avg = (double) frameCount / segments;
        int[] out = new int[segments];
        for (int i = 0; i < segments; i++) {
            double pos = i * avg + avg * (view + 0.5) / views;
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
