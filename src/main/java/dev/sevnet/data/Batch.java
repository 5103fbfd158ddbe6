package dev.sevnet.data;

import dev.sevnet.tensor.Tensor;
import java.util.Arrays;

/**
 * One batch from {@link ClipLoader}: the clips as one float32 host tensor and their labels. The
 * batch owns the tensor (it is taken out of any {@code TensorScope}); close the batch to free it.
 *
 * <p>In multi-view mode every sample contributes {@code viewsPerSample} consecutive clips, so the
 * tensor is {@code [B * V, 3, T, H, W]} and the per-sample arrays have length B; average the
 * softmax of each sample's V rows.
 */
public final class Batch implements AutoCloseable {
    private final Tensor clips;
    private final int[] indices;
    private final int[][] labelSets;
    private final int numClasses;
    private final int viewsPerSample;

    Batch(Tensor clips, int[] indices, int[][] labelSets, int numClasses, int viewsPerSample) {
        this.clips = clips;
        this.indices = indices;
        this.labelSets = labelSets;
        this.numClasses = numClasses;
        this.viewsPerSample = viewsPerSample;
    }

    /** {@code [B * V, 3, T, H, W]} float32, normalised RGB. Valid until the batch is closed. */
    public Tensor clips() {
        return clips;
    }

    /** Number of samples B (not counting views). */
    public int size() {
        return indices.length;
    }

    public int viewsPerSample() {
        return viewsPerSample;
    }

    /** Dataset indices of the samples, in batch order. */
    public int[] indices() {
        return indices.clone();
    }

    /** Each sample's first label (-1 when it has none): the class target of single-label training. */
    public long[] labels() {
        long[] out = new long[labelSets.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = labelSets[i].length == 0 ? -1 : labelSets[i][0];
        }
        return out;
    }

    /** Every label of sample {@code i}. */
    public int[] labelSet(int i) {
        return labelSets[i].clone();
    }

    /** Multi-hot targets {@code [B, K]} row-major (1 for each label of the sample): BCE training and mAP. */
    public float[] multiHot() {
        float[] out = new float[labelSets.length * numClasses];
        for (int i = 0; i < labelSets.length; i++) {
            for (int l : labelSets[i]) {
                out[i * numClasses + l] = 1f;
            }
        }
        return out;
    }

    public int numClasses() {
        return numClasses;
    }

    @Override
    public void close() {
        clips.close();
    }

    @Override
    public String toString() {
        return "Batch[" + indices.length + " samples x " + viewsPerSample + " views, " + clips.shape()
                + ", indices " + Arrays.toString(indices) + "]";
    }
}
