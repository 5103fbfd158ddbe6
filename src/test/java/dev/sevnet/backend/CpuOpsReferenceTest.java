package dev.sevnet.backend;

import static dev.sevnet.backend.OpsTestSupport.B;
import static dev.sevnet.backend.OpsTestSupport.assertClose;
import static dev.sevnet.backend.OpsTestSupport.randn;
import static dev.sevnet.backend.OpsTestSupport.size;
import static dev.sevnet.backend.OpsTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sevnet.backend.Backend.BatchNormResult;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every non-conv op of the CPU backend against a naive Java reference computed in double. */
class CpuOpsReferenceTest {
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.open();
    }

    @AfterEach
    void close() {
        scope.close();
    }

    // ---------------------------------------------------------------- batch norm

    /** Reference batch statistics of [N, C, S]: {mean[C], biased var[C]} in double. */
    private static double[][] stats(float[] x, int n, int c, int s) {
        double[] mean = new double[c];
        double[] var = new double[c];
        for (int ch = 0; ch < c; ch++) {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < s; j++) {
                    sum += x[(i * c + ch) * s + j];
                }
            }
            mean[ch] = sum / (n * s);
            double sq = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < s; j++) {
                    double d = x[(i * c + ch) * s + j] - mean[ch];
                    sq += d * d;
                }
            }
            var[ch] = sq / (n * s);
        }
        return new double[][] {mean, var};
    }

    /** x with a different mean and spread per channel, so a mix-up of channels or statistics shows. */
    private static float[] channelData(Random r, int n, int c, int s) {
        float[] x = new float[n * c * s];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                for (int j = 0; j < s; j++) {
                    x[(i * c + ch) * s + j] = (float) (1.5 * ch - 2 + (0.5 + 0.5 * ch) * r.nextGaussian());
                }
            }
        }
        return x;
    }

    @Test
    void batchNormTrainNormalisesWithBiasedVarAndUpdatesRunningStatsUnbiased() {
        int n = 3, c = 4, t = 2, h = 3, w = 2, s = t * h * w, count = n * s;
        double eps = 1e-5, momentum = 0.1;
        Random r = new Random(11);
        float[] gamma = uniform(r, c, 0.5, 1.5);
        float[] beta = randn(r, c);
        Tensor rm = Tensor.of(randn(r, c), c);
        Tensor rv = Tensor.of(uniform(r, c, 0.5, 2.0), c);
        // several steps: each step's running stats follow PyTorch from the previous (float) values
        for (int step = 0; step < 3; step++) {
            float[] x = channelData(r, n, c, s);
            float[] rm0 = rm.toFloatArray();
            float[] rv0 = rv.toFloatArray();
            BatchNormResult res = B.batchNormTrain(Tensor.of(x, n, c, t, h, w), Tensor.of(gamma, c), Tensor.of(beta, c),
                    rm, rv, eps, momentum);
            double[][] st = stats(x, n, c, s);
            double[] y = new double[x.length];
            double[] invstd = new double[c];
            double[] rmRef = new double[c];
            double[] rvRef = new double[c];
            for (int ch = 0; ch < c; ch++) {
                invstd[ch] = 1 / Math.sqrt(st[1][ch] + eps);
                rmRef[ch] = (1 - momentum) * rm0[ch] + momentum * st[0][ch];
                rvRef[ch] = (1 - momentum) * rv0[ch] + momentum * st[1][ch] * count / (count - 1);
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < s; j++) {
                        int k = (i * c + ch) * s + j;
                        y[k] = (x[k] - st[0][ch]) * invstd[ch] * gamma[ch] + beta[ch];
                    }
                }
            }
            assertClose(y, res.y().toFloatArray(), 1e-5, 2e-5, "bn train y, step " + step);
            assertClose(st[0], res.saveMean().toFloatArray(), 1e-6, 1e-6, "bn save_mean");
            assertClose(invstd, res.saveInvstd().toFloatArray(), 1e-6, 1e-6, "bn save_invstd");
            assertClose(rmRef, rm.toFloatArray(), 1e-6, 1e-6, "running_mean, step " + step);
            assertClose(rvRef, rv.toFloatArray(), 1e-6, 1e-6, "running_var (unbiased), step " + step);
        }
    }

    @Test
    void batchNormTrainWithoutAffineOrRunningStats() {
        int n = 2, c = 3, s = 5;
        Random r = new Random(12);
        float[] x = channelData(r, n, c, s);
        BatchNormResult res = B.batchNormTrain(Tensor.of(x, n, c, s), null, null, null, null, 1e-3, 0.1);
        double[][] st = stats(x, n, c, s);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int ch = (i / s) % c;
            y[i] = (x[i] - st[0][ch]) / Math.sqrt(st[1][ch] + 1e-3);
        }
        assertClose(y, res.y().toFloatArray(), 1e-5, 2e-5, "bn train (no affine) y");
    }

    @Test
    void batchNormEvalWithAndWithoutRelu() {
        int n = 2, c = 3, t = 2, h = 2, w = 3, s = t * h * w;
        double eps = 1e-5;
        Random r = new Random(13);
        float[] x = channelData(r, n, c, s);
        float[] gamma = uniform(r, c, -1.5, 1.5);
        float[] beta = randn(r, c);
        float[] rm = randn(r, c);
        float[] rv = uniform(r, c, 0.2, 3.0);
        for (boolean relu : new boolean[] {false, true}) {
            for (boolean affine : new boolean[] {false, true}) {
                Tensor y = B.batchNormEval(Tensor.of(x, n, c, t, h, w), affine ? Tensor.of(gamma, c) : null,
                        affine ? Tensor.of(beta, c) : null, Tensor.of(rm, c), Tensor.of(rv, c), eps, relu);
                double[] ref = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    int ch = (i / s) % c;
                    double v = (x[i] - rm[ch]) / Math.sqrt(rv[ch] + eps);
                    if (affine) {
                        v = v * gamma[ch] + beta[ch];
                    }
                    ref[i] = relu ? Math.max(v, 0) : v;
                }
                assertEquals(Shape.of(n, c, t, h, w), y.shape());
                assertClose(ref, y.toFloatArray(), 1e-5, 1e-5, "bn eval relu=" + relu + " affine=" + affine);
            }
        }
    }

    @Test
    void batchNormBackwardMatchesClosedForm() {
        int n = 2, c = 3, s = 7, count = n * s;
        Random r = new Random(14);
        float[] x = channelData(r, n, c, s);
        float[] dy = randn(r, x.length);
        float[] gamma = uniform(r, c, 0.5, 2.0);
        Tensor xt = Tensor.of(x, n, c, s);
        BatchNormResult fwd = B.batchNormTrain(xt, Tensor.of(gamma, c), null, null, null, 1e-5, 0.1);
        Tensor[] g = B.batchNormBackward(xt, Tensor.of(dy, n, c, s), Tensor.of(gamma, c), fwd.saveMean(),
                fwd.saveInvstd());
        double[][] st = stats(x, n, c, s);
        double[] dx = new double[x.length];
        double[] dgamma = new double[c];
        double[] dbeta = new double[c];
        for (int ch = 0; ch < c; ch++) {
            double inv = 1 / Math.sqrt(st[1][ch] + 1e-5);
            double sdy = 0, sdyx = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < s; j++) {
                    int k = (i * c + ch) * s + j;
                    sdy += dy[k];
                    sdyx += dy[k] * (x[k] - st[0][ch]) * inv;
                }
            }
            dgamma[ch] = sdyx;
            dbeta[ch] = sdy;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < s; j++) {
                    int k = (i * c + ch) * s + j;
                    double xhat = (x[k] - st[0][ch]) * inv;
                    dx[k] = gamma[ch] * inv / count * (count * dy[k] - sdy - xhat * sdyx);
                }
            }
        }
        assertClose(dx, g[0].toFloatArray(), 1e-4, 1e-5, "bn backward dx");
        assertClose(dgamma, g[1].toFloatArray(), 1e-5, 1e-5, "bn backward dgamma");
        assertClose(dbeta, g[2].toFloatArray(), 1e-5, 1e-5, "bn backward dbeta");
    }

    // ---------------------------------------------------------------- element-wise

    /** Sizes below and above the native parallel threshold (1 << 15), so both code paths run. */
    private static final int[] SIZES = {1, 37, 100_003};

    @Test
    void reluAndBackward() {
        Random r = new Random(21);
        for (int n : SIZES) {
            float[] x = randn(r, n);
            float[] dy = randn(r, n);
            Tensor y = B.relu(Tensor.of(x, n));
            float[] yv = y.toFloatArray();
            float[] dx = B.reluBackward(y, Tensor.of(dy, n)).toFloatArray();
            float[] yRef = new float[n];
            float[] dxRef = new float[n];
            for (int i = 0; i < n; i++) {
                yRef[i] = Math.max(x[i], 0f);
                dxRef[i] = x[i] > 0 ? dy[i] : 0f;
            }
            assertArrayEquals(yRef, yv, "relu");
            assertArrayEquals(dxRef, dx, "relu backward");
        }
    }

    @Test
    void addAddReluMulScale() {
        Random r = new Random(22);
        for (int n : SIZES) {
            float[] a = randn(r, n);
            float[] b = randn(r, n);
            Tensor at = Tensor.of(a, n);
            Tensor bt = Tensor.of(b, n);
            float[] add = B.add(at, bt).toFloatArray();
            float[] addRelu = B.addRelu(at, bt).toFloatArray();
            float[] mul = B.mul(at, bt).toFloatArray();
            float[] scale = B.scale(at, -0.75f).toFloatArray();
            float[][] ref = new float[4][n];
            for (int i = 0; i < n; i++) {
                ref[0][i] = a[i] + b[i];
                ref[1][i] = Math.max(a[i] + b[i], 0f);
                ref[2][i] = a[i] * b[i];
                ref[3][i] = -0.75f * a[i];
            }
            assertArrayEquals(ref[0], add, "add");
            assertArrayEquals(ref[1], addRelu, "add+relu");
            assertArrayEquals(ref[2], mul, "mul");
            assertArrayEquals(ref[3], scale, "scale");
        }
        // shape is kept for multi-dimensional inputs
        Tensor x = Tensor.of(randn(r, 24), 2, 3, 4);
        assertEquals(x.shape(), B.add(x, x).shape());
        assertEquals(x.shape(), B.addRelu(x, x).shape());
    }

    @Test
    void axpbyIncludingBetaZeroOverNaNGarbage() {
        Random r = new Random(23);
        for (int n : SIZES) {
            float[] x = randn(r, n);
            float[] y0 = randn(r, n);
            Tensor y = Tensor.of(y0, n);
            B.axpby(1.5f, Tensor.of(x, n), -0.5f, y);
            double[] ref = new double[n];
            for (int i = 0; i < n; i++) {
                ref[i] = 1.5 * x[i] - 0.5 * y0[i];
            }
            assertClose(ref, y.toFloatArray(), 1e-6, 1e-6, "axpby");
            // beta = 0: y is not read, so NaN/Inf garbage must not leak into the result
            Tensor garbage = Tensor.full(Shape.of(n), Float.NaN);
            if (n > 1) {
                garbage.setFloat(1, Float.POSITIVE_INFINITY);
            }
            B.axpby(2f, Tensor.of(x, n), 0f, garbage);
            float[] gRef = new float[n];
            for (int i = 0; i < n; i++) {
                gRef[i] = 2f * x[i];
            }
            assertArrayEquals(gRef, garbage.toFloatArray(), "axpby beta=0");
        }
    }

    @Test
    void fillWritesEveryElement() {
        for (int n : SIZES) {
            Tensor y = Tensor.full(Shape.of(n), Float.NaN);
            B.fill(y, 2.5f);
            float[] ref = new float[n];
            java.util.Arrays.fill(ref, 2.5f);
            assertArrayEquals(ref, y.toFloatArray(), "fill 2.5");
            B.fill(y, 0f);
            java.util.Arrays.fill(ref, 0f);
            assertArrayEquals(ref, y.toFloatArray(), "fill 0");  // assertArrayEquals tells +0 from -0
            B.fill(y, -0f);
            java.util.Arrays.fill(ref, -0f);
            assertArrayEquals(ref, y.toFloatArray(), "fill(-0) keeps the sign");
        }
    }

    @Test
    void sigmoidAndBackwardIncludingSaturation() {
        Random r = new Random(24);
        for (int n : SIZES) {
            float[] x = uniform(r, n, -8, 8);
            x[0] = n > 1 ? 1e4f : x[0];
            float[] dy = randn(r, n);
            Tensor y = B.sigmoid(Tensor.of(x, n));
            float[] yv = y.toFloatArray();
            float[] dx = B.sigmoidBackward(y, Tensor.of(dy, n)).toFloatArray();
            double[] yRef = new double[n];
            double[] dxRef = new double[n];
            for (int i = 0; i < n; i++) {
                yRef[i] = 1 / (1 + Math.exp(-x[i]));
                // from the stored float y, as the op does: near saturation 1 - y has few significant bits
                dxRef[i] = dy[i] * (double) yv[i] * (1 - (double) yv[i]);
            }
            assertClose(yRef, yv, 1e-6, 1e-7, "sigmoid");
            assertClose(dxRef, dx, 1e-5, 1e-9, "sigmoid backward");
        }
        float[] ext = {-1e4f, -100f, -30f, 0f, 30f, 100f, 1e4f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY};
        float[] y = B.sigmoid(Tensor.of(ext, ext.length)).toFloatArray();
        for (int i = 0; i < ext.length; i++) {
            assertClose(1 / (1 + Math.exp(-(double) ext[i])), y[i], 1e-6, 1e-30, "sigmoid(" + ext[i] + ")");
        }
    }

    @Test
    void dropoutMaskValuesRateAndDeterminism() {
        int n = 1 << 20;  // far above the parallel threshold
        float p = 0.3f;
        float keep = 1f / (1f - p);
        float[] x = randn(new Random(25), n);
        Tensor xt = Tensor.of(x, n);
        Tensor[] d = B.dropout(xt, p, 1234L);
        float[] y = d[0].toFloatArray();
        float[] mask = d[1].toFloatArray();
        long kept = 0;
        float[] yRef = new float[n];
        for (int i = 0; i < n; i++) {
            if (mask[i] != 0f && mask[i] != keep) {
                fail("mask value " + mask[i] + " at " + i + " is neither 0 nor 1/(1-p) = " + keep);
            }
            yRef[i] = x[i] * mask[i];
            kept += mask[i] != 0f ? 1 : 0;
        }
        assertArrayEquals(yRef, y, "y = x * mask");
        double rate = (double) kept / n;
        double sigma = Math.sqrt(p * (1 - p) / n);
        assertEquals(1 - p, rate, 6 * sigma, "keep rate");

        // same seed -> same mask, whatever the thread count; another seed -> another mask
        int before = CpuBackend.numThreads();
        try {
            CpuBackend.setNumThreads(1);
            float[] m1 = B.dropout(xt, p, 1234L)[1].toFloatArray();
            CpuBackend.setNumThreads(2);
            float[] m2 = B.dropout(xt, p, 1234L)[1].toFloatArray();
            assertArrayEquals(mask, m1, "same seed, 1 thread");
            assertArrayEquals(mask, m2, "same seed, 2 threads");
        } finally {
            CpuBackend.setNumThreads(before);
        }
        float[] other = B.dropout(xt, p, 1235L)[1].toFloatArray();
        int differ = 0;
        for (int i = 0; i < n; i++) {
            differ += other[i] != mask[i] ? 1 : 0;
        }
        // two independent masks differ in 2 p (1 - p) of the places
        assertEquals(2 * p * (1 - p), (double) differ / n, 0.01, "another seed gives an independent mask");

        // p = 0 keeps everything unchanged
        Tensor[] d0 = B.dropout(xt, 0f, 7L);
        assertArrayEquals(x, d0[0].toFloatArray(), "p = 0: y = x");
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        assertArrayEquals(ones, d0[1].toFloatArray(), "p = 0: mask of ones");
    }

    // ---------------------------------------------------------------- shape ops

    @Test
    void concatAndSplitChannels() {
        int n = 2, ca = 3, cb = 5, t = 2, h = 2, w = 3, s = t * h * w;
        Random r = new Random(31);
        float[] a = randn(r, n * ca * s);
        float[] b = randn(r, n * cb * s);
        Tensor y = B.concatChannels(Tensor.of(a, n, ca, t, h, w), Tensor.of(b, n, cb, t, h, w));
        assertEquals(Shape.of(n, ca + cb, t, h, w), y.shape());
        float[] yv = y.toFloatArray();
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < ca + cb; c++) {
                for (int j = 0; j < s; j++) {
                    float e = c < ca ? a[(i * ca + c) * s + j] : b[(i * cb + c - ca) * s + j];
                    assertEquals(e, yv[(i * (ca + cb) + c) * s + j], "concat at n" + i + " c" + c + " s" + j);
                }
            }
        }
        Tensor[] parts = B.splitChannels(y, ca);
        assertEquals(Shape.of(n, ca, t, h, w), parts[0].shape());
        assertEquals(Shape.of(n, cb, t, h, w), parts[1].shape());
        assertArrayEquals(a, parts[0].toFloatArray());
        assertArrayEquals(b, parts[1].toFloatArray());
    }

    @Test
    void channelScaleAndBackward() {
        int n = 2, c = 3, s = 10;
        Random r = new Random(32);
        float[] x = randn(r, n * c * s);
        float[] g = randn(r, n * c);
        float[] dy = randn(r, x.length);
        Tensor xt = Tensor.of(x, n, c, 2, 5);
        Tensor gt = Tensor.of(g, n, c);
        float[] y = B.channelScale(xt, gt).toFloatArray();
        Tensor[] back = B.channelScaleBackward(xt, gt, Tensor.of(dy, n, c, 2, 5));
        float[] dx = back[0].toFloatArray();
        double[] dg = new double[n * c];
        for (int i = 0; i < x.length; i++) {
            int nc = i / s;
            assertEquals(x[i] * g[nc], y[i], "channel scale " + i);
            assertEquals(dy[i] * g[nc], dx[i], "channel scale dx " + i);
            dg[nc] += (double) dy[i] * x[i];
        }
        assertEquals(Shape.of(n, c), back[1].shape());
        assertClose(dg, back[1].toFloatArray(), 1e-5, 1e-6, "channel scale dg");
    }

    // ---------------------------------------------------------------- pooling

    /** Naive avg-pool with count_include_pad (the divisor is always the full window). */
    static double[] avgPoolRef(float[] x, long[] xs, ConvSpec k, long[] ys) {
        int n = (int) xs[0], c = (int) xs[1], t = (int) xs[2], h = (int) xs[3], w = (int) xs[4];
        int to = (int) ys[2], ho = (int) ys[3], wo = (int) ys[4];
        double[] y = new double[n * c * to * ho * wo];
        for (int nc = 0; nc < n * c; nc++) {
            for (int a = 0; a < to; a++) {
                for (int b = 0; b < ho; b++) {
                    for (int d = 0; d < wo; d++) {
                        double s = 0;
                        for (int i = 0; i < k.kT(); i++) {
                            for (int j = 0; j < k.kH(); j++) {
                                for (int l = 0; l < k.kW(); l++) {
                                    int ti = a * k.sT() - k.pT() + i, hi = b * k.sH() - k.pH() + j,
                                            wi = d * k.sW() - k.pW() + l;
                                    if (ti >= 0 && ti < t && hi >= 0 && hi < h && wi >= 0 && wi < w) {
                                        s += x[((nc * t + ti) * h + hi) * w + wi];
                                    }
                                }
                            }
                        }
                        y[((nc * to + a) * ho + b) * wo + d] = s / k.kernelVolume();
                    }
                }
            }
        }
        return y;
    }

    /** The backward as the transpose of the forward: dx = A^T dy where y = A x. */
    static double[] avgPoolBackwardRef(float[] dy, long[] xs, ConvSpec k, long[] ys) {
        int n = (int) xs[0], c = (int) xs[1], t = (int) xs[2], h = (int) xs[3], w = (int) xs[4];
        int to = (int) ys[2], ho = (int) ys[3], wo = (int) ys[4];
        double[] dx = new double[n * c * t * h * w];
        for (int nc = 0; nc < n * c; nc++) {
            for (int a = 0; a < to; a++) {
                for (int b = 0; b < ho; b++) {
                    for (int d = 0; d < wo; d++) {
                        double g = dy[((nc * to + a) * ho + b) * wo + d] / (double) k.kernelVolume();
                        for (int i = 0; i < k.kT(); i++) {
                            for (int j = 0; j < k.kH(); j++) {
                                for (int l = 0; l < k.kW(); l++) {
                                    int ti = a * k.sT() - k.pT() + i, hi = b * k.sH() - k.pH() + j,
                                            wi = d * k.sW() - k.pW() + l;
                                    if (ti >= 0 && ti < t && hi >= 0 && hi < h && wi >= 0 && wi < w) {
                                        dx[((nc * t + ti) * h + hi) * w + wi] += g;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx;
    }

    static final ConvSpec SHORTCUT = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build();
    static final ConvSpec CUBE2 = ConvSpec.builder().kernel(2, 2, 2).stride(2, 2, 2).build();
    static final ConvSpec CUBE3_PAD = ConvSpec.builder().kernel(3, 3, 3).padding(1, 1, 1).build();

    @Test
    void avgPoolForwardAndBackward() {
        Object[][] cases = {
            {SHORTCUT, new long[] {2, 3, 4, 8, 8}, new long[] {2, 3, 4, 4, 4}},
            {SHORTCUT, new long[] {1, 2, 3, 7, 9}, new long[] {1, 2, 3, 4, 5}},   // odd sizes
            {CUBE2, new long[] {2, 2, 4, 6, 4}, new long[] {2, 2, 2, 3, 2}},
            {CUBE2, new long[] {1, 3, 5, 7, 3}, new long[] {1, 3, 2, 3, 1}},      // odd sizes drop the last plane
            {CUBE3_PAD, new long[] {1, 2, 3, 4, 5}, new long[] {1, 2, 3, 4, 5}},
        };
        Random r = new Random(41);
        for (Object[] cs : cases) {
            ConvSpec k = (ConvSpec) cs[0];
            long[] xs = (long[]) cs[1];
            long[] ys = (long[]) cs[2];
            float[] x = randn(r, size(xs));
            Tensor y = B.avgPool3d(Tensor.of(x, xs), k);
            assertEquals(Shape.of(ys), y.shape(), "avg-pool output shape for " + k);
            assertClose(avgPoolRef(x, xs, k, ys), y.toFloatArray(), 1e-5, 1e-6, "avg-pool " + k + " " + Shape.of(xs));
            float[] dy = randn(r, size(ys));
            Tensor dx = B.avgPool3dBackward(Tensor.of(dy, ys), k, Shape.of(xs));
            assertEquals(Shape.of(xs), dx.shape());
            assertClose(avgPoolBackwardRef(dy, xs, k, ys), dx.toFloatArray(), 1e-5, 1e-6,
                    "avg-pool backward " + k + " " + Shape.of(xs));
        }
    }

    @Test
    void avgPoolCountsPaddingInTheDivisor() {
        // all ones: a corner window of the shortcut pool covers 2x2 real values of 3x3 -> 4/9
        Tensor x = Tensor.full(Shape.of(1, 1, 1, 4, 4), 1f);
        float[] y = B.avgPool3d(x, SHORTCUT).toFloatArray();
        assertEquals(4f / 9f, y[0], 1e-7);
        assertEquals(6f / 9f, y[1], 1e-7);
        assertEquals(9f / 9f, y[3], 1e-7);
    }

    @Test
    void globalAvgPoolAndBackward() {
        int n = 2, c = 3, s = 2 * 3 * 4;
        Random r = new Random(42);
        float[] x = uniform(r, n * c * s, 0, 10);
        Tensor y = B.globalAvgPool(Tensor.of(x, n, c, 2, 3, 4));
        assertEquals(Shape.of(n, c), y.shape());
        double[] ref = new double[n * c];
        for (int i = 0; i < x.length; i++) {
            ref[i / s] += x[i] / (double) s;
        }
        assertClose(ref, y.toFloatArray(), 1e-6, 1e-6, "global avg-pool");
        float[] dy = randn(r, n * c);
        Tensor dx = B.globalAvgPoolBackward(Tensor.of(dy, n, c), Shape.of(n, c, 2, 3, 4));
        double[] dref = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            dref[i] = dy[i / s] / (double) s;
        }
        assertClose(dref, dx.toFloatArray(), 1e-6, 1e-7, "global avg-pool backward");
    }

    // ---------------------------------------------------------------- dense

    @Test
    void linearWithAndWithoutBias() {
        int n = 5, in = 7, out = 4;
        Random r = new Random(51);
        float[] x = randn(r, n * in);
        float[] w = randn(r, out * in);
        float[] b = randn(r, out);
        for (boolean bias : new boolean[] {false, true}) {
            Tensor y = B.linear(Tensor.of(x, n, in), Tensor.of(w, out, in), bias ? Tensor.of(b, out) : null);
            assertEquals(Shape.of(n, out), y.shape());
            double[] ref = new double[n * out];
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) {
                    double s = bias ? b[o] : 0;
                    for (int k = 0; k < in; k++) {
                        s += (double) x[i * in + k] * w[o * in + k];
                    }
                    ref[i * out + o] = s;
                }
            }
            assertClose(ref, y.toFloatArray(), 1e-5, 1e-5, "linear bias=" + bias);
        }
    }

    @Test
    void linearBackward() {
        int n = 5, in = 7, out = 4;
        Random r = new Random(52);
        float[] x = randn(r, n * in);
        float[] w = randn(r, out * in);
        float[] dy = randn(r, n * out);
        for (boolean bias : new boolean[] {false, true}) {
            Tensor[] g = B.linearBackward(Tensor.of(x, n, in), Tensor.of(w, out, in), Tensor.of(dy, n, out), bias);
            double[] dx = new double[n * in];
            double[] dw = new double[out * in];
            double[] db = new double[out];
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) {
                    db[o] += dy[i * out + o];
                    for (int k = 0; k < in; k++) {
                        dx[i * in + k] += (double) dy[i * out + o] * w[o * in + k];
                        dw[o * in + k] += (double) dy[i * out + o] * x[i * in + k];
                    }
                }
            }
            assertClose(dx, g[0].toFloatArray(), 1e-5, 1e-5, "linear dx");
            assertClose(dw, g[1].toFloatArray(), 1e-5, 1e-5, "linear dw");
            if (bias) {
                assertClose(db, g[2].toFloatArray(), 1e-5, 1e-5, "linear db");
            } else {
                assertNull(g[2]);
            }
        }
    }

    @Test
    void gemmAllTransposes() {
        int m = 5, n = 6, k = 7;
        Random r = new Random(53);
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                float[] a = randn(r, m * k);
                float[] b = randn(r, k * n);
                float[] c0 = randn(r, m * n);
                Tensor at = ta ? Tensor.of(a, k, m) : Tensor.of(a, m, k);
                Tensor bt = tb ? Tensor.of(b, n, k) : Tensor.of(b, k, n);
                Tensor c = Tensor.of(c0, m, n);
                B.gemm(ta, tb, 0.7f, at, bt, 0.3f, c);
                double[] ref = new double[m * n];
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int l = 0; l < k; l++) {
                            double av = ta ? a[l * m + i] : a[i * k + l];
                            double bv = tb ? b[j * k + l] : b[l * n + j];
                            s += av * bv;
                        }
                        ref[i * n + j] = 0.7 * s + 0.3 * c0[i * n + j];
                    }
                }
                assertClose(ref, c.toFloatArray(), 1e-5, 1e-5, "gemm ta=" + ta + " tb=" + tb);
            }
        }
    }

    // ---------------------------------------------------------------- losses

    private static double[] softmaxRef(float[] x, int n, int k) {
        double[] p = new double[n * k];
        for (int i = 0; i < n; i++) {
            double mx = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                mx = Math.max(mx, x[i * k + j]);
            }
            double s = 0;
            for (int j = 0; j < k; j++) {
                s += Math.exp(x[i * k + j] - mx);
            }
            for (int j = 0; j < k; j++) {
                p[i * k + j] = Math.exp(x[i * k + j] - mx) / s;
            }
        }
        return p;
    }

    @Test
    void softmaxCrossEntropyAndBackward() {
        int n = 4, k = 6;
        Random r = new Random(61);
        float[] x = randn(r, n * k);
        for (int j = 0; j < k; j++) {
            x[3 * k + j] = 500f + 40f * j;  // large logits: needs the max shift
        }
        long[] labels = {0, 5, 2, 1};
        Tensor[] out = B.softmaxCrossEntropy(Tensor.of(x, n, k), Tensor.ofLongs(labels, n));
        assertEquals(Shape.of(1), out[0].shape());
        double[] p = softmaxRef(x, n, k);
        double loss = 0;
        for (int i = 0; i < n; i++) {
            double mx = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                mx = Math.max(mx, x[i * k + j]);
            }
            double s = 0;
            for (int j = 0; j < k; j++) {
                s += Math.exp(x[i * k + j] - mx);
            }
            loss += mx + Math.log(s) - x[(int) (i * k + labels[i])];
        }
        loss /= n;
        assertClose(loss, out[0].getFloat(0), 1e-6, 1e-6, "cross-entropy loss (batch mean)");
        assertClose(p, out[1].toFloatArray(), 1e-5, 1e-7, "cross-entropy probs");

        float scale = 2.5f;
        float[] d = B.softmaxCrossEntropyBackward(out[1], Tensor.ofLongs(labels, n), scale).toFloatArray();
        double[] dref = new double[n * k];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                dref[i * k + j] = (p[i * k + j] - (labels[i] == j ? 1 : 0)) * scale / n;
            }
        }
        assertClose(dref, d, 1e-5, 1e-6, "cross-entropy backward");
    }

    @Test
    void softmaxRowsIncludingLargeLogits() {
        int n = 3, k = 5;
        Random r = new Random(62);
        float[] x = randn(r, n * k);
        for (int j = 0; j < k; j++) {
            x[k + j] = 1000f * j;        // would overflow exp without the max shift
            x[2 * k + j] = -1000f - j;   // would underflow to 0/0
        }
        float[] y = B.softmax(Tensor.of(x, n, k)).toFloatArray();
        assertClose(softmaxRef(x, n, k), y, 1e-5, 1e-7, "softmax");
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < k; j++) {
                s += y[i * k + j];
            }
            assertEquals(1.0, s, 1e-6, "softmax row " + i + " sums to 1");
        }
    }

    @Test
    void bceWithLogitsAndBackwardStableForLargeLogits() {
        int n = 3, k = 4;
        Random r = new Random(63);
        float[] x = uniform(r, n * k, -4, 4);
        float[] t = new float[n * k];
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextBoolean() ? 1f : 0f;
        }
        // the last row: |logits| large enough that a naive log(sigmoid) is -inf or log(0)
        x[8] = 100f;
        t[8] = 0f;
        x[9] = -100f;
        t[9] = 1f;
        x[10] = 1e4f;
        t[10] = 1f;
        x[11] = -1e4f;
        t[11] = 0f;
        Tensor loss = B.bceWithLogits(Tensor.of(x, n, k), Tensor.of(t, n, k));
        assertEquals(Shape.of(1), loss.shape());
        double ref = 0;
        double[] dref = new double[n * k];
        float scale = 3f;
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            ref += Math.max(v, 0) - v * t[i] + Math.log1p(Math.exp(-Math.abs(v)));
            dref[i] = (1 / (1 + Math.exp(-v)) - t[i]) * scale / (n * k);
        }
        ref /= n * k;
        assertTrue(Double.isFinite(loss.getFloat(0)));
        assertClose(ref, loss.getFloat(0), 1e-6, 1e-6, "BCE loss (mean over N*K)");
        float[] d = B.bceWithLogitsBackward(Tensor.of(x, n, k), Tensor.of(t, n, k), scale).toFloatArray();
        assertClose(dref, d, 1e-5, 1e-7, "BCE backward");
    }

    // ---------------------------------------------------------------- optimizer, reductions

    @Test
    void sgdMomentumMatchesPyTorchOverSeveralSteps() {
        int n = 1000;
        float lr = 0.05f, momentum = 0.9f, wd = 1e-4f;
        Random r = new Random(71);
        float[] w = randn(r, n);
        Tensor wt = Tensor.of(w.clone(), n);
        Tensor vt = Tensor.zeros(Shape.of(n));  // PyTorch's first step sets buf = g = momentum * 0 + g
        double[] wr = OpsTestSupport.toDouble(w);
        double[] vr = new double[n];
        for (int step = 0; step < 5; step++) {
            float[] g = randn(r, n);
            B.sgdMomentumStep(wt, Tensor.of(g, n), vt, lr, momentum, wd);
            for (int i = 0; i < n; i++) {
                double gi = g[i] + wd * wr[i];      // coupled weight decay
                vr[i] = momentum * vr[i] + gi;      // no dampening
                wr[i] -= lr * vr[i];
            }
            assertClose(wr, wt.toFloatArray(), 1e-5, 1e-6, "sgd weights after step " + step);
            assertClose(vr, vt.toFloatArray(), 1e-5, 1e-6, "sgd velocity after step " + step);
        }
    }

    @Test
    void sumInDouble() {
        Random r = new Random(72);
        for (int n : SIZES) {
            float[] x = uniform(r, n, -1, 3);
            double ref = 0;
            for (float v : x) {
                ref += v;
            }
            assertClose(ref, B.sum(Tensor.of(x, n)), 1e-9, 1e-9, "sum of " + n);
        }
        // a float accumulator would stall at 2^24
        int n = (1 << 24) + 1024;
        Tensor ones = Tensor.full(Shape.of(n), 1f);
        assertEquals(n, B.sum(ones), 0.0);
    }
}
