package dev.sevnet.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A dataset of clips that {@link ClipLoader} reads in parallel. Implementations must be
 * thread-safe: {@link #load} is called from several worker threads at once, and its result may
 * depend only on its arguments (which is what makes loading deterministic for a seed).
 */
public interface ClipSource {
    /** Number of samples (videos). */
    int size();

    List<String> classNames();

    default int numClasses() {
        return classNames().size();
    }

    /** The labels of sample {@code index} without decoding it. */
    int[] labels(int index);

    /** A human-readable name of sample {@code index} for warnings (its path). */
    default String describe(int index) {
        return "sample " + index;
    }

    /**
     * One clip of sample {@code index}: training (random sampling and augmentation from {@code rng})
     * or the single deterministic test view.
     *
     * @throws VideoDecodeException when the sample cannot be decoded (the loader skips it)
     */
    Clip load(int index, Random rng, boolean train);

    /** Number of test views per sample in multi-view testing (e.g. 10 clips x 3 crops = 30). */
    default int testViews() {
        return 1;
    }

    /**
     * All {@link #testViews()} test views of sample {@code index}, in a fixed order, for averaging
     * the softmax probabilities of the views.
     */
    default List<Clip> loadViews(int index) {
        List<Clip> views = new ArrayList<>(1);
        views.add(load(index, new Random(0), false));
        return views;
    }
}
