package dev.sevnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class FrameSamplerTest {
    @Test
    void tsnTrainTakesOneFrameInEachSegment() {
        TsnSampler s = new TsnSampler(8);
        Random rng = new Random(1);
        boolean[] seenOffsets = new boolean[10];
        for (int trial = 0; trial < 200; trial++) {
            int[] idx = s.sampleTrain(80, rng);
            assertEquals(8, idx.length);
            for (int i = 0; i < 8; i++) {
                assertTrue(idx[i] >= i * 10 && idx[i] < (i + 1) * 10, "frame " + idx[i] + " outside segment " + i);
                seenOffsets[idx[i] - i * 10] = true;
            }
        }
        for (boolean b : seenOffsets) {
            assertTrue(b, "every offset inside a segment is reachable");
        }
    }

    @Test
    void tsnTestTakesSegmentMiddles() {
        TsnSampler s = new TsnSampler(4);
        assertArrayEquals(new int[] {5, 15, 25, 35}, s.sampleTest(40, 0, 1));
        // two views: quarter and three-quarter of each segment
        assertArrayEquals(new int[] {2, 12, 22, 32}, s.sampleTest(40, 0, 2));
        assertArrayEquals(new int[] {7, 17, 27, 37}, s.sampleTest(40, 1, 2));
    }

    @Test
    void tsnShortVideoRepeatsFramesInOrder() {
        TsnSampler s = new TsnSampler(8);
        int[] train = s.sampleTrain(3, new Random(0));
        int[] test = s.sampleTest(3, 0, 1);
        for (int[] idx : new int[][] {train, test}) {
            assertEquals(8, idx.length);
            for (int i = 0; i < idx.length; i++) {
                assertTrue(idx[i] >= 0 && idx[i] < 3);
                if (i > 0) {
                    assertTrue(idx[i] >= idx[i - 1], "frames stay in temporal order");
                }
            }
        }
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 0, 0}, s.sampleTest(1, 0, 1));
    }

    @Test
    void denseClipsAreSixteenFramesFromSixtyFour() {
        DenseClipSampler s = DenseClipSampler.kinetics();
        assertEquals(64, s.window());
        Random rng = new Random(3);
        int minStart = Integer.MAX_VALUE;
        int maxStart = 0;
        for (int trial = 0; trial < 300; trial++) {
            int[] idx = s.sampleTrain(100, rng);
            assertEquals(16, idx.length);
            for (int j = 1; j < 16; j++) {
                assertEquals(4, idx[j] - idx[j - 1]);
            }
            assertTrue(idx[15] < 100);
            minStart = Math.min(minStart, idx[0]);
            maxStart = Math.max(maxStart, idx[0]);
        }
        assertEquals(0, minStart);
        assertEquals(36, maxStart); // 100 - 64
    }

    @Test
    void denseTestSpreadsTenClipsEvenly() {
        DenseClipSampler s = DenseClipSampler.kinetics();
        int previous = -1;
        for (int v = 0; v < 10; v++) {
            int[] idx = s.sampleTest(300, v, 10);
            // mmaction2: offset = (v + 1/2) * (300 - 64 + 1) / 10
            assertEquals((int) ((v + 0.5) * 237 / 10.0), idx[0]);
            assertTrue(idx[0] > previous);
            previous = idx[0];
            assertTrue(idx[15] < 300);
        }
        assertArrayEquals(s.sampleTest(300, 4, 10), s.sampleTest(300, 4, 10));
    }

    @Test
    void denseShortVideoLoops() {
        DenseClipSampler s = new DenseClipSampler(8, 2);
        assertArrayEquals(new int[] {0, 2, 4, 1, 3, 0, 2, 4}, s.sampleTest(5, 0, 1));
        assertArrayEquals(new int[] {0, 2, 4, 1, 3, 0, 2, 4}, s.sampleTrain(5, new Random(9)));
    }

    @Test
    void samplersAreDeterministicForASeed() {
        for (FrameSampler s : new FrameSampler[] {new TsnSampler(8), DenseClipSampler.kinetics()}) {
            assertArrayEquals(s.sampleTrain(500, new Random(42)), s.sampleTrain(500, new Random(42)));
        }
        assertThrows(IllegalArgumentException.class, () -> new TsnSampler(8).sampleTrain(0, new Random()));
        assertThrows(IllegalArgumentException.class, () -> new TsnSampler(8).sampleTest(10, 2, 2));
    }
}
