package dev.sevnet.data;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One entry of an annotation list: a video file or a frame folder, its frame count when the list
 * says it, and its labels (several labels make a multi-label sample; none for unlabelled test sets).
 *
 * @param path        a video file or a frame folder, relative to the data root (or absolute)
 * @param totalFrames frame count from the list file, or -1 when unknown (videos; counted on load)
 * @param labels      class indices, 0-based; copied in and out so the record stays immutable
 */
public record VideoRecord(String path, int totalFrames, int[] labels) {
    public VideoRecord {
        if (path == null || path.isEmpty()) {
            throw new IllegalArgumentException("empty path in video record");
        }
        labels = labels.clone();
        for (int l : labels) {
            if (l < 0) {
                throw new IllegalArgumentException("negative label " + l + " for " + path);
            }
        }
    }

    public static VideoRecord ofVideo(String path, int... labels) {
        return new VideoRecord(path, -1, labels);
    }

    @Override
    public int[] labels() {
        return labels.clone();
    }

    /** The first label, or -1 when the record has none. */
    public int label() {
        return labels.length == 0 ? -1 : labels[0];
    }

    public int labelCount() {
        return labels.length;
    }

    public Path resolve(Path root) {
        Path p = Path.of(path);
        return p.isAbsolute() || root == null ? p : root.resolve(p);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VideoRecord r && r.path.equals(path) && r.totalFrames == totalFrames
                && Arrays.equals(r.labels, labels);
    }

    @Override
    public int hashCode() {
        return path.hashCode() * 31 + Arrays.hashCode(labels) + totalFrames;
    }

    @Override
    public String toString() {
        return "VideoRecord[" + path + ", frames=" + totalFrames + ", labels=" + Arrays.toString(labels) + "]";
    }
}
