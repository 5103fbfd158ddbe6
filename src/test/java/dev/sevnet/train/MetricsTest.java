package dev.sevnet.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsTest {
    private static final float[][] SCORES = {
            {0.7f, 0.2f, 0.1f},   // true 0 -> predicted 0
            {0.1f, 0.3f, 0.6f},   // true 1 -> predicted 2 (1 is second)
            {0.2f, 0.5f, 0.3f},   // true 2 -> predicted 1 (2 is second)
            {0.1f, 0.1f, 0.8f},   // true 2 -> predicted 2
    };
    private static final int[] LABELS = {0, 1, 2, 2};

    @Test
    void topKOnHandMadeCase() {
        assertEquals(0.5, Metrics.topK(SCORES, LABELS, 1), 1e-12);
        assertEquals(1.0, Metrics.topK(SCORES, LABELS, 2), 1e-12);
        assertEquals(1.0, Metrics.topK(SCORES, LABELS, 5), 1e-12);
    }

    @Test
    void tiesRankTheLowerIndexFirst() {
        float[] row = {0.5f, 0.5f, 0.0f};
        assertTrue(Metrics.inTopK(row, 0, 1));
        assertFalse(Metrics.inTopK(row, 1, 1));
        assertTrue(Metrics.inTopK(row, 1, 2));
        assertArrayEquals(new int[] {0, 1}, Metrics.topKIndices(row, 2));
    }

    @Test
    void confusionAndMeanClassAccuracy() {
        long[][] cm = Metrics.confusionMatrix(SCORES, LABELS, 4);
        assertEquals(1, cm[0][0]);
        assertEquals(1, cm[1][2]);
        assertEquals(1, cm[2][1]);
        assertEquals(1, cm[2][2]);
        // classes 0: 1/1, 1: 0/1, 2: 1/2; class 3 has no sample and is left out
        assertEquals((1.0 + 0.0 + 0.5) / 3, Metrics.meanClassAccuracy(cm), 1e-12);
    }

    @Test
    void averagePrecisionMatchesMmaction2() {
        // scores sorted: 0.9(+) 0.8(-) 0.7(+) 0.6(-) 0.5(+)
        float[] s = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
        boolean[] p = {true, false, true, false, true};
        // AP = 1/3*1 + 1/3*2/3 + 1/3*3/5
        assertEquals((1 + 2.0 / 3 + 3.0 / 5) / 3, Metrics.averagePrecision(s, p), 1e-12);
        // a tie across a positive and a negative counts as one threshold: precision 1/2 at recall 1
        assertEquals(0.5, Metrics.averagePrecision(new float[] {0.5f, 0.5f}, new boolean[] {true, false}), 1e-12);
        // perfect ranking
        assertEquals(1.0, Metrics.averagePrecision(new float[] {0.9f, 0.1f, 0.2f}, new boolean[] {true, false, false}), 1e-12);
        // no positive: NaN (left out of the mean)
        assertTrue(Double.isNaN(Metrics.averagePrecision(new float[] {0.1f}, new boolean[] {false})));
    }

    @Test
    void meanAveragePrecisionSkipsClassesWithoutPositives() {
        // sklearn.metrics.average_precision_score per class gives 1.0 and 0.5 here; class 2 has no positive
        float[][] scores = {{0.9f, 0.1f, 0.3f}, {0.2f, 0.8f, 0.1f}, {0.1f, 0.7f, 0.2f}};
        boolean[][] targets = {{true, false, false}, {false, false, false}, {false, true, false}};
        assertEquals((1.0 + 0.5) / 2, Metrics.meanAveragePrecision(scores, targets), 1e-12);
    }

    @Test
    void accumulatorReportsEverything() {
        Metrics.Accumulator acc = new Metrics.Accumulator(3, false);
        for (int i = 0; i < SCORES.length; i++) {
            acc.add(SCORES[i], new int[] {LABELS[i]});
        }
        acc.addLoss(2.0, 4);
        Metrics.Result r = acc.result();
        assertEquals(4, r.samples());
        assertEquals(0.5, r.top1(), 1e-12);
        assertEquals(1.0, r.top5(), 1e-12);
        assertEquals((1 + 0 + 0.5) / 3, r.meanClassAcc(), 1e-12);
        assertTrue(Double.isNaN(r.map()));
        assertEquals(2.0, r.loss(), 1e-12);

        Metrics.Accumulator ml = new Metrics.Accumulator(3, true);
        ml.add(new float[] {0.9f, 0.8f, 0.1f}, new int[] {0, 1});
        ml.add(new float[] {0.1f, 0.2f, 0.9f}, new int[] {1});
        Metrics.Result m = ml.result();
        assertEquals(0.5, m.top1(), 1e-12);
        assertEquals(1.0, m.top5(), 1e-12);
        // class 0: AP 1; class 1: positives at 0.8 (rank 1) and 0.2 (rank 2) -> 1; class 2: none
        assertEquals(1.0, m.map(), 1e-12);
    }

    @Test
    void confusionCsv(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("cm.csv");
        Metrics.writeConfusionCsv(Metrics.confusionMatrix(SCORES, LABELS, 3), List.of("a", "b,c", "d"), f);
        List<String> lines = Files.readAllLines(f);
        assertEquals("true\\predicted,a,\"b,c\",d", lines.get(0));
        assertEquals("a,1,0,0", lines.get(1));
        assertEquals("d,0,1,1", lines.get(3));
    }
}
