package dev.sevnet.data;

import java.util.Arrays;

/**
 * One model-ready clip on the heap: float32 {@code [3, T, H, W]} (normalised RGB) and its labels.
 *
 * @param data   {@code 3 * frames * height * width} values, channel-major
 * @param labels 0-based class indices (one for single-label data, several for multi-label, none for unlabelled)
 */
public record Clip(float[] data, int frames, int height, int width, int[] labels) {
    public Clip {
        if (frames <= 0 || height <= 0 || width <= 0) {
            throw new IllegalArgumentException("clip dimensions must be positive, got [3, " + frames + ", " + height
                    + ", " + width + "]");
        }
        if ((long) 3 * frames * height * width != data.length) {
            throw new IllegalArgumentException("clip data of " + data.length + " values does not match [3, "
                    + frames + ", " + height + ", " + width + "]");
        }
        labels = labels.clone();
    }

    @Override
    public int[] labels() {
        return labels.clone();
    }

    /** The first label, or -1 when there is none. */
    public int label() {
        return labels.length == 0 ? -1 : labels[0];
    }

    /** Value at channel c, frame t, row y, column x. */
    public float at(int c, int t, int y, int x) {
        return data[((c * frames + t) * height + y) * width + x];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Clip c && c.frames == frames && c.height == height && c.width == width
                && Arrays.equals(c.data, data) && Arrays.equals(c.labels, labels);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(data) * 31 + Arrays.hashCode(labels);
    }

    @Override
    public String toString() {
        return "Clip[3x" + frames + "x" + height + "x" + width + ", labels=" + Arrays.toString(labels) + "]";
    }
}
