package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CPU's batch norm + residual + ReLU in one pass ({@code sev_batchnorm_act_train_forward}) and its backward with
 * the ReLU's mask in its passes ({@code sev_batchnorm_act_backward}) against the ops they replace — batch norm, then
 * add / addRelu / relu; reluBackward, then batch norm backward — bit for bit: y, the statistics, the running
 * estimates, dx, dgamma, dbeta, dresidual. Shapes with S below, at and past a vector's width and ragged tails, one
 * channel, one item, values that put some of y at exactly 0 and some negative. Runs in every ISA build (pom:
 * sevnet.isaTests).
 */
class BatchNormActCpuTest {
    private static final long[][] SHAPES = {{2, 3, 1, 5, 7}, {1, 1, 2, 4, 4}, {3, 5, 1, 1, 17}, {2, 16, 2, 7, 7},
        {1, 32, 4, 9, 13}, {4, 2, 1, 1, 1}};

    private static Tensor rand(Random r, Shape s, double shift) {
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            // every 9th value exactly 0: with a zero shift and unit coefficients some of y is exactly 0 as well
            a[i] = i % 9 == 0 ? 0f : (float) (r.nextGaussian() + shift);
        }
        return Tensor.of(a, s);
    }

    @Test
    void theFusedFormsAreTheComposedOpsBitForBit() {
        Backend b = Backends.cpu();
        Random r = new Random(31);
        for (long[] dims : SHAPES) {
            Shape s = Shape.of(dims);
            Shape cs = Shape.of(dims[1]);
            for (boolean withResidual : new boolean[] {false, true}) {
                for (boolean relu : new boolean[] {false, true}) {
                    if (!withResidual && !relu) {
                        continue;
                    }
                    try (TensorScope scope = TensorScope.open()) {
                        String what = s + (withResidual ? " + residual" : "") + (relu ? " relu" : "");
                        Tensor x = rand(r, s, 0.3), res = withResidual ? rand(r, s, -0.2) : null, dy = rand(r, s, 0);
                        Tensor gamma = rand(r, cs, 1), beta = rand(r, cs, 0);
                        Tensor rm1 = rand(r, cs, 0), rv1 = Tensor.full(cs, 1.5f);
                        Tensor rm2 = rm1.copy(), rv2 = rv1.copy();

                        Backend.BatchNormResult fused = b.batchNormTrainAct(x, res, gamma, beta, rm1, rv1, 1e-5, 0.1,
                                relu);
                        Backend.BatchNormResult bn = b.batchNormTrain(x, gamma, beta, rm2, rv2, 1e-5, 0.1);
                        Tensor composed = res == null ? b.relu(bn.y()) : relu ? b.addRelu(bn.y(), res)
                                : b.add(bn.y(), res);
                        same(composed, fused.y(), "y " + what);
                        same(bn.saveMean(), fused.saveMean(), "mean " + what);
                        same(bn.saveInvstd(), fused.saveInvstd(), "invstd " + what);
                        same(rm2, rm1, "running mean " + what);
                        same(rv2, rv1, "running var " + what);

                        Tensor y = fused.y();
                        Tensor[] f = b.batchNormActBackward(x, y, dy, gamma, fused.saveMean(), fused.saveInvstd(), relu,
                                withResidual);
                        Tensor g = relu ? b.reluBackward(y, dy) : dy;
                        Tensor[] c = b.batchNormBackward(x, g, gamma, bn.saveMean(), bn.saveInvstd());
                        same(c[0], f[0], "dx " + what);
                        same(c[1], f[1], "dgamma " + what);
                        same(c[2], f[2], "dbeta " + what);
                        if (withResidual) {
                            same(g, f[3], "dresidual " + what);
                        } else {
                            assertNull(f[3], "no dresidual asked for " + what);
                        }
                    }
                }
            }
        }
    }

    /**
     * The backward of relu(batch norm(x)) that recomputes the ReLU's mask from x (batchNormReluBackward) against the
     * one that reads the stored y: bit for bit, with and without gamma / beta, negative gammas, and channels whose
     * values sit exactly on their mean (x * a + b then lands on or next to 0: only the forward's own arithmetic
     * gives the same sign there).
     */
    @Test
    void theReluMaskRecomputedFromTheInputIsTheStoredOutputsBitForBit() {
        Backend b = Backends.cpu();
        Random r = new Random(7);
        for (long[] dims : SHAPES) {
            Shape s = Shape.of(dims);
            Shape cs = Shape.of(dims[1]);
            for (int variant = 0; variant < 4; variant++) {
                try (TensorScope scope = TensorScope.open()) {
                    String what = s + " variant " + variant;
                    Tensor x = variant % 2 == 0 ? rand(r, s, 0.3) : onTheMean(r, dims);
                    Tensor dy = rand(r, s, 0);
                    Tensor gamma = variant < 2 ? rand(r, cs, 0.2) : null; // some negative
                    Tensor beta = variant == 1 ? Tensor.zeros(cs) : variant < 2 ? rand(r, cs, 0) : null;
                    Backend.BatchNormResult fwd = b.batchNormTrainAct(x, null, gamma, beta, null, null, 1e-5, 0.1,
                            true);
                    Tensor[] stored = b.batchNormActBackward(x, fwd.y(), dy, gamma, fwd.saveMean(), fwd.saveInvstd(),
                            true, false);
                    Tensor[] fromX = b.batchNormReluBackward(x, fwd.y(), dy, gamma, beta, fwd.saveMean(),
                            fwd.saveInvstd());
                    same(stored[0], fromX[0], "dx " + what);
                    same(stored[1], fromX[1], "dgamma " + what);
                    same(stored[2], fromX[2], "dbeta " + what);
                }
            }
        }
    }

    // each channel: v exactly on its mean (v = k/64, pairs v + 1/2, v - 1/2 and the rest v: every sum exact), so for
    // half the values x * a + b is the rounding error of mean * a or 0 — its sign is the last bit of the arithmetic
    private static Tensor onTheMean(Random r, long[] dims) {
        Shape s = Shape.of(dims);
        int per = Math.toIntExact(s.size() / (dims[0] * dims[1]));
        float[] a = new float[Math.toIntExact(s.size())];
        for (int c = 0; c < dims[1]; c++) {
            float v = (r.nextInt(512) - 256) / 64f;
            for (int n = 0; n < dims[0]; n++) {
                for (int j = 0; j < per; j++) {
                    int k = j % 4;
                    boolean unpaired = k == 0 && j == per - 1;
                    a[(int) ((n * dims[1] + c) * per + j)] = k == 0 && !unpaired ? v + 0.5f : k == 1 ? v - 0.5f : v;
                }
            }
        }
        return Tensor.of(a, s);
    }

    @Test
    void badArgumentsAreClearErrorsBeforeAnyNativeCall() {
        Backend b = Backends.cpu();
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.zeros(Shape.of(2, 3, 1, 2, 2));
            Tensor c3 = Tensor.full(Shape.of(3), 1f);
            Tensor wrongRes = Tensor.zeros(Shape.of(2, 3, 1, 2, 3));
            assertThrows(IllegalArgumentException.class,
                    () -> b.batchNormTrainAct(x, wrongRes, c3, c3, null, null, 1e-5, 0.1, true));
            Tensor wrongY = Tensor.zeros(Shape.of(2, 3, 1, 1, 2));
            assertThrows(IllegalArgumentException.class,
                    () -> b.batchNormActBackward(x, wrongY, x, c3, c3, c3, true, false));
            assertThrows(IllegalArgumentException.class,
                    () -> b.batchNormActBackward(x, x, x, c3, null, c3, true, true));
            Tensor c2 = Tensor.full(Shape.of(2), 1f);
            assertThrows(IllegalArgumentException.class, () -> b.batchNormReluBackward(x, x, x, c3, c2, c3, c3));
            assertThrows(IllegalArgumentException.class, () -> b.batchNormReluBackward(x, x, wrongY, c3, c3, c3, c3));
            assertThrows(IllegalArgumentException.class, () -> b.batchNormReluBackward(x, x, x, c3, c3, null, c3));
        }
    }

    private static void same(Tensor expected, Tensor actual, String what) {
        assertArrayEquals(expected.toFloatArray(), actual.toFloatArray(), 0f, what);
    }
}
