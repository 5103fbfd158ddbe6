package dev.sevnet.data;

import java.util.Random;

/**
 * Picks the 0-based frame indices of a clip from a video of {@code frameCount} frames. Pure
 * functions of their arguments: the same count and the same random state give the same clip.
 */
public interface FrameSampler {
    /** Frames per clip (the model's T). */
    int clipLength();

    /** One training clip, randomised by {@code rng}. */
    int[] sampleTrain(int frameCount, Random rng);

    /** Temporal view {@code view} of {@code views} deterministic test clips spread over the video. */
    int[] sampleTest(int frameCount, int view, int views);
}
