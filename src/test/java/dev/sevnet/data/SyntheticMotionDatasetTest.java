package dev.sevnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class SyntheticMotionDatasetTest {
    private static final int SIDE = 32;
    private static final int FRAMES = 8;
    private static final double CHANCE = 1.0 / SyntheticMotionDataset.NUM_CLASSES;

    @Test
    void samplesAreDeterministicBalancedAndSized() {
        int k = SyntheticMotionDataset.NUM_CLASSES;
        SyntheticMotionDataset d = SyntheticMotionDataset.builder().size(3 * k).seed(7).frames(6).resolution(40, 24).build();
        assertEquals(10, d.numClasses());
        assertEquals("moving_right", d.classNames().get(0));
        RgbFrames a = d.render(5);
        assertEquals(6, a.count());
        assertEquals(40, a.width());
        assertEquals(24, a.height());
        for (int t = 0; t < a.count(); t++) {
            assertArrayEquals(a.frame(t), d.render(5).frame(t));
        }
        assertNotEquals(Arrays.hashCode(a.frame(0)),
                Arrays.hashCode(SyntheticMotionDataset.builder().seed(8).frames(6).resolution(40, 24).build().render(5).frame(0)));
        int[] perClass = new int[k];
        for (int i = 0; i < 3 * k; i++) {
            perClass[d.labels(i)[0]]++;
        }
        int[] three = new int[k];
        Arrays.fill(three, 3);
        assertArrayEquals(three, perClass);
        Clip c = d.load(5, new Random(1), true);
        assertEquals(6, c.frames());
        assertEquals(24, c.height());
        assertEquals(40, c.width());
        assertEquals(d.label(5), c.label());
        assertEquals(c, d.load(5, new Random(2), false), "without fresh samples a sample is its index");
    }

    @Test
    void freshSamplesChangeTheSceneButNotTheClass() {
        SyntheticMotionDataset d = SyntheticMotionDataset.builder().size(16).resolution(16).freshSamplesEachEpoch(true).build();
        Clip a = d.load(3, new Random(1), true);
        Clip b = d.load(3, new Random(2), true);
        assertNotEquals(a, b);
        assertEquals(a.label(), b.label());
        assertEquals(d.load(3, new Random(1), false), d.load(3, new Random(2), false), "test clips stay fixed");
    }

    @Test
    void aSingleFrameCarriesNoLabelButTheMotionDoes() {
        SyntheticMotionDataset train = SyntheticMotionDataset.builder().size(480).seed(100).frames(FRAMES).resolution(SIDE).build();
        SyntheticMotionDataset test = SyntheticMotionDataset.builder().size(240).seed(200).frames(FRAMES).resolution(SIDE).build();

        // frame-only: downsampled pixels of the first frame, of a middle frame; object statistics of one frame
        double first = accuracy(train, test, f -> pixels(f, 0));
        double middle = accuracy(train, test, f -> pixels(f, FRAMES / 2));
        double objectStats = accuracy(train, test, f -> objectFeatures(f, FRAMES - 1));
        // motion: how those object statistics change from the first to the last frame
        double motion = accuracy(train, test, f -> motionFeatures(f));

        String report = String.format("accuracy: first frame %.3f, middle frame %.3f, one frame's object %.3f, motion %.3f (chance %.3f)",
                first, middle, objectStats, motion, CHANCE);
        System.out.println(report);
        assertTrue(first < 2 * CHANCE, report);
        assertTrue(middle < 2 * CHANCE, report);
        assertTrue(objectStats < 2 * CHANCE, report);
        assertTrue(motion > 3 * CHANCE, report);
    }

    /** 8x8 block means of one frame's RGB, in [0, 1]. */
    static double[] pixels(RgbFrames f, int t) {
        int cells = 8;
        int block = f.width() / cells;
        double[] out = new double[cells * cells * 3];
        byte[] px = f.frame(t);
        for (int y = 0; y < f.height(); y++) {
            for (int x = 0; x < f.width(); x++) {
                int cell = ((y / block) * cells + x / block) * 3;
                for (int c = 0; c < 3; c++) {
                    out[cell + c] += (px[(y * f.width() + x) * 3 + c] & 0xFF) / 255.0 / (block * block);
                }
            }
        }
        return out;
    }

    /**
     * Where the object is and how big: pixels far from the frame's median colour form the object;
     * its centroid on the torus (as angles) and its log area.
     */
    static double[] objectStats(RgbFrames f, int t) {
        byte[] px = f.frame(t);
        int n = f.width() * f.height();
        int[] median = new int[3];
        for (int c = 0; c < 3; c++) {
            int[] v = new int[n];
            for (int i = 0; i < n; i++) {
                v[i] = px[i * 3 + c] & 0xFF;
            }
            Arrays.sort(v);
            median[c] = v[n / 2];
        }
        double sx = 0;
        double cx = 0;
        double sy = 0;
        double cy = 0;
        double area = 0;
        for (int y = 0; y < f.height(); y++) {
            for (int x = 0; x < f.width(); x++) {
                int o = (y * f.width() + x) * 3;
                double d = 0;
                for (int c = 0; c < 3; c++) {
                    double diff = ((px[o + c] & 0xFF) - median[c]) / 255.0;
                    d += diff * diff;
                }
                if (Math.sqrt(d) > 0.25) {
                    area++;
                    sx += Math.sin(2 * Math.PI * x / f.width());
                    cx += Math.cos(2 * Math.PI * x / f.width());
                    sy += Math.sin(2 * Math.PI * y / f.height());
                    cy += Math.cos(2 * Math.PI * y / f.height());
                }
            }
        }
        return new double[] {Math.atan2(sx, cx), Math.atan2(sy, cy), Math.log(area + 1)};
    }

    static double[] objectFeatures(RgbFrames f, int t) {
        double[] s = objectStats(f, t);
        return new double[] {Math.cos(s[0]), Math.sin(s[0]), Math.cos(s[1]), Math.sin(s[1]), s[2]};
    }

    static double[] motionFeatures(RgbFrames f) {
        double[] a = objectStats(f, 0);
        double[] b = objectStats(f, f.count() - 1);
        double dx = wrap(b[0] - a[0]);
        double dy = wrap(b[1] - a[1]);
        double da = b[2] - a[2];
        return new double[] {dx, dy, da, dx * dx, dy * dy, da * da};
    }

    static double wrap(double angle) {
        return Math.atan2(Math.sin(angle), Math.cos(angle));
    }

    /** Held-out accuracy of multinomial logistic regression on {@code features}. */
    static double accuracy(SyntheticMotionDataset train, SyntheticMotionDataset test, Function<RgbFrames, double[]> features) {
        double[][] xTrain = new double[train.size()][];
        int[] yTrain = new int[train.size()];
        for (int i = 0; i < train.size(); i++) {
            xTrain[i] = features.apply(train.render(i));
            yTrain[i] = train.label(i);
        }
        int dims = xTrain[0].length;
        double[] mean = new double[dims];
        double[] std = new double[dims];
        for (double[] x : xTrain) {
            for (int j = 0; j < dims; j++) {
                mean[j] += x[j] / xTrain.length;
            }
        }
        for (double[] x : xTrain) {
            for (int j = 0; j < dims; j++) {
                std[j] += (x[j] - mean[j]) * (x[j] - mean[j]) / xTrain.length;
            }
        }
        for (int j = 0; j < dims; j++) {
            std[j] = Math.sqrt(std[j]) + 1e-9;
        }
        for (double[] x : xTrain) {
            standardize(x, mean, std);
        }
        int k = SyntheticMotionDataset.NUM_CLASSES;
        double[][] w = new double[k][dims + 1];
        double lr = 1.0;
        double l2 = 1e-3;
        for (int step = 0; step < 150; step++) {
            double[][] grad = new double[k][dims + 1];
            for (int i = 0; i < xTrain.length; i++) {
                double[] p = softmax(w, xTrain[i]);
                for (int c = 0; c < k; c++) {
                    double g = p[c] - (yTrain[i] == c ? 1 : 0);
                    for (int j = 0; j < dims; j++) {
                        grad[c][j] += g * xTrain[i][j];
                    }
                    grad[c][dims] += g;
                }
            }
            for (int c = 0; c < k; c++) {
                for (int j = 0; j <= dims; j++) {
                    w[c][j] -= lr * (grad[c][j] / xTrain.length + (j < dims ? l2 * w[c][j] : 0));
                }
            }
        }
        int correct = 0;
        for (int i = 0; i < test.size(); i++) {
            double[] x = features.apply(test.render(i));
            standardize(x, mean, std);
            double[] p = softmax(w, x);
            int best = 0;
            for (int c = 1; c < k; c++) {
                if (p[c] > p[best]) {
                    best = c;
                }
            }
            correct += best == test.label(i) ? 1 : 0;
        }
        return (double) correct / test.size();
    }

    private static void standardize(double[] x, double[] mean, double[] std) {
        for (int j = 0; j < x.length; j++) {
            x[j] = (x[j] - mean[j]) / std[j];
        }
    }

    private static double[] softmax(double[][] w, double[] x) {
        double[] z = new double[w.length];
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < w.length; c++) {
            double s = w[c][x.length];
            for (int j = 0; j < x.length; j++) {
                s += w[c][j] * x[j];
            }
            z[c] = s;
            max = Math.max(max, s);
        }
        double sum = 0;
        for (int c = 0; c < z.length; c++) {
            z[c] = Math.exp(z[c] - max);
            sum += z[c];
        }
        for (int c = 0; c < z.length; c++) {
            z[c] /= sum;
        }
        return z;
    }
}
