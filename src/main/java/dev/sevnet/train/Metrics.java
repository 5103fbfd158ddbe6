package dev.sevnet.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Classification metrics as the video community computes them (mmaction2's definitions).
 *
 * <p>Scores are {@code [N][K]} arrays (probabilities or logits: only the order matters, except for
 * averaging views, which callers do on probabilities). Single-label targets are {@code int[N]};
 * multi-label targets are {@code boolean[N][K]} (or the label lists they come from).
 */
public final class Metrics {
    private Metrics() {
    }

    /** Fraction of samples whose label is among the {@code k} highest scores (mmaction2 top_k_accuracy). */
    public static double topK(float[][] scores, int[] labels, int k) {
        checkSizes(scores, labels);
        if (labels.length == 0) {
            return Double.NaN;
        }
        int hits = 0;
        for (int i = 0; i < labels.length; i++) {
            if (inTopK(scores[i], labels[i], k)) {
                hits++;
            }
        }
        return hits / (double) labels.length;
    }

    /**
     * Whether {@code label} is among the top {@code k} of {@code row}. Ties are broken by index
     * (a lower index ranks first), so the result never depends on sort stability.
     */
    public static boolean inTopK(float[] row, int label, int k) {
        if (label < 0 || label >= row.length) {
            return false;
        }
        float v = row[label];
        if (Float.isNaN(v)) {
            return false; // NaN compares false with everything: it would rank first and count as a hit
        }
        int better = 0;
        for (int j = 0; j < row.length; j++) {
            if (row[j] > v || (row[j] == v && j < label)) {
                better++;
                if (better >= k) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The index of the highest score (the lowest index among ties). */
    public static int argmax(float[] row) {
        int best = 0;
        for (int j = 1; j < row.length; j++) {
            if (row[j] > row[best]) {
                best = j;
            }
        }
        return best;
    }

    /** The {@code k} best classes of a row, best first. */
    public static int[] topKIndices(float[] row, int k) {
        Integer[] idx = new Integer[row.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> row[a] != row[b] ? Float.compare(row[b], row[a]) : Integer.compare(a, b));
        int n = Math.min(k, row.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = idx[i];
        }
        return out;
    }

    /** {@code m[true][predicted]} counts over {@code numClasses} classes (prediction = argmax). */
    public static long[][] confusionMatrix(float[][] scores, int[] labels, int numClasses) {
        checkSizes(scores, labels);
        long[][] m = new long[numClasses][numClasses];
        for (int i = 0; i < labels.length; i++) {
            int p = argmax(scores[i]);
            int t = labels[i];
            if (t < 0 || t >= numClasses) {
                throw new IllegalArgumentException("label " + t + " of sample " + i + " is outside 0.." + (numClasses - 1));
            }
            if (p < numClasses) {
                m[t][p]++;
            }
        }
        return m;
    }

    /**
     * Mean per-class recall, mmaction2's mean_class_accuracy: its confusion matrix spans the classes that
     * occur as a true label or as a prediction, so a class that is predicted but has no sample counts
     * as a recall of 0; classes that are neither are left out of the mean.
     */
    public static double meanClassAccuracy(long[][] confusion) {
        double sum = 0;
        int n = 0;
        for (int c = 0; c < confusion.length; c++) {
            long cnt = 0;
            for (long v : confusion[c]) {
                cnt += v;
            }
            long predicted = 0;
            for (long[] row : confusion) {
                predicted += c < row.length ? row[c] : 0;
            }
            if (cnt > 0) {
                sum += confusion[c][c] / (double) cnt;
                n++;
            } else if (predicted > 0) {
                n++; // mmaction2: "hit / cnt if cnt else 0.0"
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    public static double meanClassAccuracy(float[][] scores, int[] labels, int numClasses) {
        return meanClassAccuracy(confusionMatrix(scores, labels, numClasses));
    }

    /**
     * Average precision of one class, mmaction2's definition (binary_precision_recall_curve, then
     * {@code -sum(diff(recall) * precision[:-1])}): the sum over distinct score thresholds, from the
     * highest down to the one where full recall is reached, of (recall gained) x precision.
     * Returns NaN when the class has no positive sample.
     */
    public static double averagePrecision(float[] score, boolean[] positive) {
        int n = score.length;
        if (positive.length != n) {
            throw new IllegalArgumentException("scores and targets differ in length: " + n + " vs " + positive.length);
        }
        int totalPos = 0;
        for (boolean b : positive) {
            if (b) {
                totalPos++;
            }
        }
        if (totalPos == 0) {
            return Double.NaN;
        }
        Integer[] idx = new Integer[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Float.compare(score[b], score[a]));
        double ap = 0;
        int tp = 0;
        int prevTp = 0;
        for (int i = 0; i < n; i++) {
            if (positive[idx[i]]) {
                tp++;
            }
            boolean lastOfThreshold = i == n - 1 || score[idx[i + 1]] != score[idx[i]];
            if (lastOfThreshold) {
                if (tp > prevTp) {
                    double precision = tp / (double) (i + 1);
                    ap += (tp - prevTp) / (double) totalPos * precision;
                    prevTp = tp;
                }
                if (tp == totalPos) {
                    break;
                }
            }
        }
        return ap;
    }

    /**
     * mmaction2 mean_average_precision: the mean of per-class AP over classes with a positive sample
     * (each class ranks the samples). Not the "MMIT style" mAP of mmaction2's Multi-Moments in Time
     * configs: that is {@link #sampleMeanAveragePrecision}.
     */
    public static double meanAveragePrecision(float[][] scores, boolean[][] targets) {
        if (scores.length != targets.length) {
            throw new IllegalArgumentException("scores and targets differ in length: " + scores.length + " vs " + targets.length);
        }
        if (scores.length == 0) {
            return Double.NaN;
        }
        int k = scores[0].length;
        double sum = 0;
        int n = 0;
        float[] col = new float[scores.length];
        boolean[] pos = new boolean[scores.length];
        for (int c = 0; c < k; c++) {
            for (int i = 0; i < scores.length; i++) {
                col[i] = scores[i][c];
                pos[i] = targets[i][c];
            }
            double ap = averagePrecision(col, pos);
            if (!Double.isNaN(ap)) {
                sum += ap;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /**
     * mmaction2 mmit_mean_average_precision ("MMIT style", what mmaction2's Multi-Moments in Time configs
     * report): the AP of each sample's ranking of the classes, averaged over samples. Samples without a
     * label are left out (mmaction2 would return NaN for the whole set).
     */
    public static double sampleMeanAveragePrecision(float[][] scores, boolean[][] targets) {
        if (scores.length != targets.length) {
            throw new IllegalArgumentException("scores and targets differ in length: " + scores.length + " vs " + targets.length);
        }
        double sum = 0;
        int n = 0;
        for (int i = 0; i < scores.length; i++) {
            double ap = averagePrecision(scores[i], targets[i]);
            if (!Double.isNaN(ap)) {
                sum += ap;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** Multi-hot targets from label lists. */
    public static boolean[][] multiHot(List<int[]> labelLists, int numClasses) {
        boolean[][] t = new boolean[labelLists.size()][numClasses];
        for (int i = 0; i < labelLists.size(); i++) {
            for (int l : labelLists.get(i)) {
                if (l >= 0 && l < numClasses) {
                    t[i][l] = true;
                }
            }
        }
        return t;
    }

    /**
     * Writes a confusion matrix as CSV: a header row {@code true\predicted,name0,name1,...} then one row
     * per true class.
     */
    public static void writeConfusionCsv(long[][] m, List<String> labelNames, Path file) throws IOException {
        StringBuilder sb = new StringBuilder("true\\predicted");
        for (int c = 0; c < m.length; c++) {
            sb.append(',').append(csv(name(labelNames, c)));
        }
        sb.append('\n');
        for (int r = 0; r < m.length; r++) {
            sb.append(csv(name(labelNames, r)));
            for (long v : m[r]) {
                sb.append(',').append(v);
            }
            sb.append('\n');
        }
        AtomicFiles.write(file, sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static String name(List<String> names, int c) {
        return names != null && c < names.size() ? names.get(c) : Integer.toString(c);
    }

    private static String csv(String s) {
        if (s.contains(",") || s.contains("\"") || s.contains("\n")) {
            return '"' + s.replace("\"", "\"\"") + '"';
        }
        return s;
    }

    private static void checkSizes(float[][] scores, int[] labels) {
        if (scores.length != labels.length) {
            throw new IllegalArgumentException("scores and labels differ in length: " + scores.length + " vs " + labels.length);
        }
    }

    /** Accumulates scores and labels over an evaluation pass, then reports every metric. */
    public static final class Accumulator {
        private final int numClasses;
        private final boolean multiLabel;
        private final List<float[]> scores = new ArrayList<>();
        private final List<int[]> labels = new ArrayList<>();
        private double lossSum;
        private long lossCount;

        public Accumulator(int numClasses, boolean multiLabel) {
            this.numClasses = numClasses;
            this.multiLabel = multiLabel;
        }

        /** Adds one sample's scores (probabilities) and its label(s). */
        public void add(float[] score, int[] labelList) {
            if (score.length != numClasses) {
                throw new IllegalArgumentException("expected " + numClasses + " scores, got " + score.length);
            }
            scores.add(score.clone());
            labels.add(labelList.clone());
        }

        public void addLoss(double loss, long count) {
            lossSum += loss * count;
            lossCount += count;
        }

        public int size() {
            return scores.size();
        }

        public Result result() {
            float[][] s = scores.toArray(new float[0][]);
            int[] first = new int[s.length];
            for (int i = 0; i < s.length; i++) {
                first[i] = labels.get(i).length > 0 ? labels.get(i)[0] : -1;
            }
            double loss = lossCount == 0 ? Double.NaN : lossSum / lossCount;
            if (s.length == 0) {
                return new Result(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, loss,
                        new long[numClasses][numClasses]);
            }
            double top1;
            double top5;
            if (multiLabel) {
                // a hit when the best (or any of the 5 best) predicted classes is one of the labels
                int h1 = 0;
                int h5 = 0;
                for (int i = 0; i < s.length; i++) {
                    int[] top = topKIndices(s[i], 5);
                    boolean any5 = false;
                    for (int j = 0; j < top.length; j++) {
                        for (int l : labels.get(i)) {
                            if (top[j] == l) {
                                any5 = true;
                                if (j == 0) {
                                    h1++;
                                }
                            }
                        }
                    }
                    if (any5) {
                        h5++;
                    }
                }
                top1 = h1 / (double) s.length;
                top5 = h5 / (double) s.length;
            } else {
                top1 = topK(s, first, 1);
                top5 = topK(s, first, Math.min(5, numClasses));
            }
            long[][] cm = new long[numClasses][numClasses];
            for (int i = 0; i < s.length; i++) {
                if (first[i] >= 0 && first[i] < numClasses) {
                    cm[first[i]][argmax(s[i])]++;
                }
            }
            double mca = meanClassAccuracy(cm);
            boolean[][] hot = multiLabel ? multiHot(labels, numClasses) : null;
            double map = multiLabel ? meanAveragePrecision(s, hot) : Double.NaN;
            double sampleMap = multiLabel ? sampleMeanAveragePrecision(s, hot) : Double.NaN;
            return new Result(s.length, top1, top5, mca, map, sampleMap, loss, cm);
        }
    }

    /**
     * Every metric of one evaluation pass. {@code map} is the per-class mAP (mmaction2
     * mean_average_precision), {@code sampleMap} the per-sample one (mmaction2 mmit_mean_average_precision);
     * both are NaN for single-label data.
     */
    public record Result(int samples, double top1, double top5, double meanClassAcc, double map, double sampleMap,
            double loss, long[][] confusion) {
        /** A result without the per-sample mAP (NaN). */
        public Result(int samples, double top1, double top5, double meanClassAcc, double map, double loss,
                long[][] confusion) {
            this(samples, top1, top5, meanClassAcc, map, Double.NaN, loss, confusion);
        }

        @Override
        public String toString() { // the record's own printed the confusion matrix as [[J@51b1a8f6
            return String.format(java.util.Locale.ROOT, "Result[samples=%d, top1=%.4f, top5=%.4f, meanClassAcc=%.4f, "
                    + "map=%.4f, sampleMap=%.4f, loss=%.4f, confusion=%s]", samples, top1, top5, meanClassAcc, map,
                    sampleMap, loss, java.util.Arrays.deepToString(confusion));
        }
    }
}
