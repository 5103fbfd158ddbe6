package dev.sevnet.backend;

import static dev.sevnet.backend.OpsTestSupport.B;
import static dev.sevnet.backend.OpsTestSupport.assertGrad;
import static dev.sevnet.backend.OpsTestSupport.awayFromZero;
import static dev.sevnet.backend.OpsTestSupport.randn;
import static dev.sevnet.backend.OpsTestSupport.run;
import static dev.sevnet.backend.OpsTestSupport.size;
import static dev.sevnet.backend.OpsTestSupport.uniform;

import dev.sevnet.backend.Backend.BatchNormResult;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference checks of every backward of the CPU backend (conv excepted): for a random r,
 * L = sum(y * r) and the backward fed with dy = r must agree with central differences of L.
 *
 * <p>Tolerances: the forward runs in float, so L carries a rounding error of about 1e-7 * sum|y r|;
 * divided by the 2*eps step that is ~1e-4 for these sizes, plus the O(eps^2) truncation error.
 */
class CpuOpsGradCheckTest {
    private static final double RTOL = 1e-2;
    private static final double ATOL = 2e-3;

    @Test
    void batchNormTrainBackwardXGammaBeta() {
        int n = 2, c = 3, t = 1, h = 2, w = 3, s = t * h * w;
        long[] dims = {n, c, t, h, w};
        Random r = new Random(101);
        float[] x = new float[n * c * s];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (0.5 * ((i / s) % c) + r.nextGaussian());
        }
        float[] gamma = uniform(r, c, 0.5, 1.5);
        float[] beta = randn(r, c);
        float[] rr = randn(r, x.length);
        double eps = 1e-5;
        float[][] analytic = new float[3][];
        try (TensorScope sc = TensorScope.open()) {
            Tensor xt = Tensor.of(x, dims);
            BatchNormResult f = B.batchNormTrain(xt, Tensor.of(gamma, c), Tensor.of(beta, c), null, null, eps, 0.1);
            Tensor[] g = B.batchNormBackward(xt, Tensor.of(rr, dims), Tensor.of(gamma, c), f.saveMean(), f.saveInvstd());
            for (int i = 0; i < 3; i++) {
                analytic[i] = g[i].toFloatArray();
            }
        }
        assertGrad(x, xp -> run(() -> B.batchNormTrain(Tensor.of(xp, dims), Tensor.of(gamma, c), Tensor.of(beta, c),
                null, null, eps, 0.1).y()), rr, 5e-3f, analytic[0], RTOL, ATOL, "bn dx");
        assertGrad(gamma, gp -> run(() -> B.batchNormTrain(Tensor.of(x, dims), Tensor.of(gp, c), Tensor.of(beta, c),
                null, null, eps, 0.1).y()), rr, 1e-2f, analytic[1], RTOL, ATOL, "bn dgamma");
        assertGrad(beta, bp -> run(() -> B.batchNormTrain(Tensor.of(x, dims), Tensor.of(gamma, c), Tensor.of(bp, c),
                null, null, eps, 0.1).y()), rr, 1e-2f, analytic[2], RTOL, ATOL, "bn dbeta");
    }

    @Test
    void batchNormBackwardWithoutGamma() {
        int n = 3, c = 2, s = 4;
        Random r = new Random(102);
        float[] x = randn(r, n * c * s);
        float[] rr = randn(r, x.length);
        float[] dx;
        try (TensorScope sc = TensorScope.open()) {
            Tensor xt = Tensor.of(x, n, c, s);
            BatchNormResult f = B.batchNormTrain(xt, null, null, null, null, 1e-5, 0.1);
            dx = B.batchNormBackward(xt, Tensor.of(rr, n, c, s), null, f.saveMean(), f.saveInvstd())[0].toFloatArray();
        }
        assertGrad(x, xp -> run(() -> B.batchNormTrain(Tensor.of(xp, n, c, s), null, null, null, null, 1e-5, 0.1).y()),
                rr, 5e-3f, dx, RTOL, ATOL, "bn dx (no affine)");
    }

    @Test
    void relu() {
        Random r = new Random(103);
        float[] x = awayFromZero(r, 40, 0.05);
        float[] rr = randn(r, x.length);
        float[] dx = run(() -> B.reluBackward(B.relu(Tensor.of(x, 40)), Tensor.of(rr, 40)));
        assertGrad(x, xp -> run(() -> B.relu(Tensor.of(xp, 40))), rr, 1e-2f, dx, RTOL, ATOL, "relu");
    }

    @Test
    void sigmoid() {
        Random r = new Random(104);
        float[] x = uniform(r, 40, -5, 5);
        float[] rr = randn(r, x.length);
        float[] dx = run(() -> B.sigmoidBackward(B.sigmoid(Tensor.of(x, 40)), Tensor.of(rr, 40)));
        assertGrad(x, xp -> run(() -> B.sigmoid(Tensor.of(xp, 40))), rr, 1e-2f, dx, RTOL, ATOL, "sigmoid");
    }

    @Test
    void channelScaleXAndG() {
        int n = 2, c = 3, s = 6;
        Random r = new Random(105);
        float[] x = randn(r, n * c * s);
        float[] g = randn(r, n * c);
        float[] rr = randn(r, x.length);
        float[][] a = new float[2][];
        try (TensorScope sc = TensorScope.open()) {
            Tensor[] b = B.channelScaleBackward(Tensor.of(x, n, c, s), Tensor.of(g, n, c), Tensor.of(rr, n, c, s));
            a[0] = b[0].toFloatArray();
            a[1] = b[1].toFloatArray();
        }
        assertGrad(x, xp -> run(() -> B.channelScale(Tensor.of(xp, n, c, s), Tensor.of(g, n, c))), rr, 1e-2f, a[0],
                RTOL, ATOL, "channel scale dx");
        assertGrad(g, gp -> run(() -> B.channelScale(Tensor.of(x, n, c, s), Tensor.of(gp, n, c))), rr, 1e-2f, a[1],
                RTOL, ATOL, "channel scale dg");
    }

    @Test
    void concatAndSplitAreEachOthersBackward() {
        int n = 2, ca = 2, cb = 3, s = 4;
        Random r = new Random(106);
        float[] a = randn(r, n * ca * s);
        float[] b = randn(r, n * cb * s);
        float[] rr = randn(r, n * (ca + cb) * s);
        float[][] g = new float[2][];
        try (TensorScope sc = TensorScope.open()) {
            Tensor[] parts = B.splitChannels(Tensor.of(rr, n, ca + cb, s), ca);
            g[0] = parts[0].toFloatArray();
            g[1] = parts[1].toFloatArray();
        }
        assertGrad(a, ap -> run(() -> B.concatChannels(Tensor.of(ap, n, ca, s), Tensor.of(b, n, cb, s))), rr, 1e-2f,
                g[0], RTOL, ATOL, "concat da");
        assertGrad(b, bp -> run(() -> B.concatChannels(Tensor.of(a, n, ca, s), Tensor.of(bp, n, cb, s))), rr, 1e-2f,
                g[1], RTOL, ATOL, "concat db");
    }

    @Test
    void avgPool3d() {
        ConvSpec[] specs = {CpuOpsReferenceTest.SHORTCUT, CpuOpsReferenceTest.CUBE2, CpuOpsReferenceTest.CUBE3_PAD};
        long[][] shapes = {{1, 2, 2, 5, 4}, {1, 2, 3, 5, 4}, {1, 1, 3, 3, 4}};
        Random r = new Random(107);
        for (int i = 0; i < specs.length; i++) {
            ConvSpec k = specs[i];
            long[] xs = shapes[i];
            float[] x = randn(r, size(xs));
            Shape ys = k.outputShape(Shape.of(xs), xs[1]);
            float[] rr = randn(r, (int) ys.size());
            float[] dx = run(() -> B.avgPool3dBackward(Tensor.of(rr, ys), k, Shape.of(xs)));
            assertGrad(x, xp -> run(() -> B.avgPool3d(Tensor.of(xp, xs), k)), rr, 1e-2f, dx, RTOL, ATOL,
                    "avg-pool " + k);
        }
    }

    @Test
    void globalAvgPool() {
        long[] xs = {2, 3, 2, 2, 3};
        Random r = new Random(108);
        float[] x = randn(r, size(xs));
        float[] rr = randn(r, 6);
        float[] dx = run(() -> B.globalAvgPoolBackward(Tensor.of(rr, 2, 3), Shape.of(xs)));
        assertGrad(x, xp -> run(() -> B.globalAvgPool(Tensor.of(xp, xs))), rr, 1e-2f, dx, RTOL, ATOL, "global avg-pool");
    }

    @Test
    void linearXWAndBias() {
        int n = 3, in = 5, out = 4;
        Random r = new Random(109);
        float[] x = randn(r, n * in);
        float[] w = randn(r, out * in);
        float[] b = randn(r, out);
        float[] rr = randn(r, n * out);
        float[][] g = new float[3][];
        try (TensorScope sc = TensorScope.open()) {
            Tensor[] t = B.linearBackward(Tensor.of(x, n, in), Tensor.of(w, out, in), Tensor.of(rr, n, out), true);
            for (int i = 0; i < 3; i++) {
                g[i] = t[i].toFloatArray();
            }
        }
        assertGrad(x, xp -> run(() -> B.linear(Tensor.of(xp, n, in), Tensor.of(w, out, in), Tensor.of(b, out))), rr,
                1e-2f, g[0], RTOL, ATOL, "linear dx");
        assertGrad(w, wp -> run(() -> B.linear(Tensor.of(x, n, in), Tensor.of(wp, out, in), Tensor.of(b, out))), rr,
                1e-2f, g[1], RTOL, ATOL, "linear dw");
        assertGrad(b, bp -> run(() -> B.linear(Tensor.of(x, n, in), Tensor.of(w, out, in), Tensor.of(bp, out))), rr,
                1e-2f, g[2], RTOL, ATOL, "linear db");
    }

    @Test
    void softmaxCrossEntropy() {
        int n = 3, k = 5;
        Random r = new Random(110);
        float[] x = randn(r, n * k);
        long[] labels = {4, 0, 2};
        float[] rr = {1.7f};  // L = 1.7 * loss, so the backward runs with scale 1.7
        float[] d;
        try (TensorScope sc = TensorScope.open()) {
            Tensor probs = B.softmaxCrossEntropy(Tensor.of(x, n, k), Tensor.ofLongs(labels, n))[1];
            d = B.softmaxCrossEntropyBackward(probs, Tensor.ofLongs(labels, n), rr[0]).toFloatArray();
        }
        assertGrad(x, xp -> run(() -> B.softmaxCrossEntropy(Tensor.of(xp, n, k), Tensor.ofLongs(labels, n))[0]), rr,
                1e-2f, d, RTOL, 1e-3, "softmax cross-entropy");
    }

    @Test
    void bceWithLogits() {
        int n = 3, k = 4;
        Random r = new Random(111);
        float[] x = uniform(r, n * k, -4, 4);
        float[] t = new float[n * k];
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextBoolean() ? 1f : 0f;
        }
        float[] rr = {0.8f};
        float[] d = run(() -> B.bceWithLogitsBackward(Tensor.of(x, n, k), Tensor.of(t, n, k), rr[0]));
        assertGrad(x, xp -> run(() -> B.bceWithLogits(Tensor.of(xp, n, k), Tensor.of(t, n, k))), rr, 1e-2f, d, RTOL,
                1e-3, "BCE with logits");
    }
}
