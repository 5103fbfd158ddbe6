package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Metrics against mmaction2's definitions (values from a numpy transcription of mmaction2's accuracy.py). */
class MetricsAuditTest {
    // true 0 -> 0, true 1 -> 3, true 2 -> 2, true 2 -> 1: class 3 is predicted but has no sample
    private static final float[][] SCORES = {
            {0.7f, 0.1f, 0.1f, 0.1f},
            {0.1f, 0.2f, 0.1f, 0.6f},
            {0.1f, 0.2f, 0.6f, 0.1f},
            {0.1f, 0.5f, 0.3f, 0.1f},
    };
    private static final int[] LABELS = {0, 1, 2, 2};

    @Test
    void meanClassAccuracyCountsAPredictedClassWithoutSamplesAsZero() {
        // mmaction2 mean_class_accuracy: confusion matrix over the union {0, 1, 2, 3} of predictions and
        // labels, per-class recall 1, 0, 1/2 and 0 for class 3 ("hit / cnt if cnt else 0.0") -> 0.375
        assertEquals(0.375, Metrics.meanClassAccuracy(SCORES, LABELS, 4), 1e-12);
        // a class neither predicted nor labelled stays out of the mean (5 classes, class 4 unused)
        float[][] five = new float[SCORES.length][];
        for (int i = 0; i < SCORES.length; i++) {
            five[i] = java.util.Arrays.copyOf(SCORES[i], 5);
        }
        assertEquals(0.375, Metrics.meanClassAccuracy(five, LABELS, 5), 1e-12);
    }

    @Test
    void accumulatorReportsTheSameMeanClassAccuracy() {
        Metrics.Accumulator acc = new Metrics.Accumulator(4, false);
        for (int i = 0; i < LABELS.length; i++) {
            acc.add(SCORES[i], new int[] {LABELS[i]});
        }
        Metrics.Result r = acc.result();
        assertEquals(0.375, r.meanClassAcc(), 1e-12);
        assertEquals(0.5, r.top1(), 1e-12);
        assertEquals(1.0, r.top5(), 1e-12); // fewer than 5 classes: every label is in the top 5
        assertEquals(List.of(1L, 0L, 0L, 0L), java.util.Arrays.stream(r.confusion()[0]).boxed().toList());
        assertEquals(1L, r.confusion()[1][3]); // rows: true class, columns: predicted class
    }

    @Test
    void multiLabelReportsBothMmaction2MeanAveragePrecisions() {
        float[][] scores = {{0.9f, 0.1f, 0.3f, 0.2f}, {0.2f, 0.8f, 0.1f, 0.4f}, {0.1f, 0.7f, 0.2f, 0.6f}};
        List<int[]> labels = List.of(new int[] {0, 2}, new int[] {3}, new int[] {0, 1});
        Metrics.Accumulator acc = new Metrics.Accumulator(4, true);
        for (int i = 0; i < scores.length; i++) {
            acc.add(scores[i], labels.get(i));
        }
        Metrics.Result r = acc.result();
        // mean_average_precision: per class 5/6, 1/2, 1, 1/2
        assertEquals((5.0 / 6 + 0.5 + 1 + 0.5) / 4, r.map(), 1e-12);
        // mmit_mean_average_precision: per sample 1, 1/2, 3/4
        assertEquals(0.75, r.sampleMap(), 1e-12);
        assertEquals(0.75, Metrics.sampleMeanAveragePrecision(scores, Metrics.multiHot(labels, 4)), 1e-12);
        // single-label data has neither
        Metrics.Accumulator single = new Metrics.Accumulator(4, false);
        single.add(scores[0], new int[] {0});
        org.junit.jupiter.api.Assertions.assertTrue(Double.isNaN(single.result().sampleMap()));
    }
}
