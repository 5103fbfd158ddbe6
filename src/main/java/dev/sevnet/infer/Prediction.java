package dev.sevnet.infer;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What {@link Predictor} answers for one video or clip: the top classes with their probabilities, the
 * raw logits and the full probability vector. Immutable (array accessors return copies).
 *
 * <p>With several views (10 clips x 3 crops) {@code probabilities} is the mean over the views of each
 * view's softmax (sigmoid for a multi-label model) and {@code logits} the mean of the views' logits.
 *
 * @param top           the best classes, most probable first
 * @param logits        the model's output for every class (mean over views)
 * @param probabilities softmax (or sigmoid) of every class, averaged over views
 * @param views         how many views were averaged
 */
public record Prediction(List<ClassScore> top, float[] logits, float[] probabilities, int views) {

    /** One class of the top list: its name, its index in the model's output and its probability. */
    public record ClassScore(String label, int index, float prob) {
        public ClassScore {
            Objects.requireNonNull(label, "label");
        }
    }

    public Prediction {
        top = List.copyOf(top);
        logits = logits.clone();
        probabilities = probabilities.clone();
    }

    @Override
    public float[] logits() {
        return logits.clone();
    }

    @Override
    public float[] probabilities() {
        return probabilities.clone();
    }

    /** The most probable class. */
    public ClassScore top1() {
        return top.get(0);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Prediction p && p.top.equals(top) && Arrays.equals(p.logits, logits)
                && Arrays.equals(p.probabilities, probabilities) && p.views == views;
    }

    @Override
    public int hashCode() {
        return (top.hashCode() * 31 + Arrays.hashCode(logits)) * 31 + views;
    }

    @Override
    public String toString() {
        return "Prediction" + top + " (" + logits.length + " classes, " + views + " view" + (views == 1 ? "" : "s") + ")";
    }
}
