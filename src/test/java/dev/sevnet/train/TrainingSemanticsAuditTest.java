package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.DeviceOutOfMemoryException;
import dev.sevnet.nn.BatchNorm3d;
import dev.sevnet.nn.Dropout;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training semantics against PyTorch + mmaction2/mmengine. Reference figures come from numpy implementations of
 * torch.optim.SGD, mmengine's LinearLR + CosineAnnealingLR (convert_to_iter_based), BCEWithLogitsLoss /
 * CrossEntropyLoss (reduction 'mean') and BatchNorm (momentum 0.1, unbiased running variance).
 */
class TrainingSemanticsAuditTest {

    // ---- gradient accumulation: the step's gradient is the mean over the micro-batches it holds ----

    private static TrainConfig accumConfig(int accum) {
        // lr 0 (policy below), momentum 0, weight decay 0, no dropout: the weights never move and the saved momentum
        // buffer of the last step is exactly the gradient that step used
        return TrainConfig.builder().model("sevnet-g1").numClasses(2).frames(4).size(16).epochs(1).warmupEpochs(0)
                .batch(4).accum(accum).dropout(0).momentum(0).weightDecay(0).workers(1).seed(5).device("cpu").build();
    }

    /** The momentum buffers after one epoch with lr 0: the last optimizer step's gradient per parameter. */
    private static Map<String, Tensor> lastStepGradient(Trainer t) {
        t.writeCurves(false).learningRate((step, perEpoch) -> 0.0).run();
        return Checkpoint.readOptimizer(t.runDirectory().lastCheckpoint());
    }

    private static void assertSameGradients(Map<String, Tensor> expected, Map<String, Tensor> actual, String what) {
        assertEquals(expected.keySet(), actual.keySet());
        double worst = 0;
        double norm = 0;
        for (String k : expected.keySet()) {
            float[] e = expected.get(k).toFloatArray();
            float[] a = actual.get(k).toFloatArray();
            for (int i = 0; i < e.length; i++) {
                worst = Math.max(worst, Math.abs(e[i] - a[i]));
                norm = Math.max(norm, Math.abs(e[i]));
            }
        }
        assertTrue(norm > 0, "gradients are not all zero");
        assertTrue(worst <= 1e-5 * norm, what + ": max |diff| " + worst + " vs max |grad| " + norm);
        expected.values().forEach(Tensor::close);
        actual.values().forEach(Tensor::close);
    }

    @Test
    void anEpochsShorterLastAccumulationGroupIsAveragedOverItsOwnMicroBatches(@TempDir Path dir) {
        // 12 clips, batch 4: 3 micro-batches an epoch. accum 2 -> steps {m0, m1} and {m2}: the last step holds one
        // micro-batch and must use its mean gradient (mmengine: loss factor = remainder), not half of it.
        Map<String, Tensor> accum2 = lastStepGradient(new Trainer(accumConfig(2), dir.resolve("a2"), Progress.Mode.QUIET)
                .data(new TrainerApiTest.Ramps(12, 1), new TrainerApiTest.Ramps(4, 2)));
        Map<String, Tensor> accum1 = lastStepGradient(new Trainer(accumConfig(1), dir.resolve("a1"), Progress.Mode.QUIET)
                .data(new TrainerApiTest.Ramps(12, 1), new TrainerApiTest.Ramps(4, 2)));
        assertSameGradients(accum1, accum2, "last step of an epoch with accum 2 over 3 micro-batches");
    }

    @Test
    void anOutOfMemoryRetryThatDropsEarlierMicroBatchesStillStepsWithAMeanGradient(@TempDir Path dir) {
        // accum 3 over 3 micro-batches: one step. The third micro-batch runs out of memory once: the retry drops m0
        // and m1 and runs m2 in two chunks of 2; the step's gradient must be m2's mean gradient, not a third of it.
        Trainer a = new Trainer(accumConfig(3), dir.resolve("oom3"), Progress.Mode.QUIET)
                .data(new TrainerApiTest.Ramps(12, 1), new TrainerApiTest.Ramps(4, 2));
        AtomicInteger calls = new AtomicInteger();
        a.chunkProbe = (from, to, w) -> {
            if (calls.incrementAndGet() == 3) {
                throw new DeviceOutOfMemoryException("fake:0", 1000, 10, 0, 2000);
            }
        };
        Map<String, Tensor> dropped = lastStepGradient(a);
        // reference: accum 1, the same split into chunks of 2 from the first batch on; its last step is m2 alone
        Trainer b = new Trainer(accumConfig(1), dir.resolve("oom1"), Progress.Mode.QUIET)
                .data(new TrainerApiTest.Ramps(12, 1), new TrainerApiTest.Ramps(4, 2));
        AtomicInteger bcalls = new AtomicInteger();
        b.chunkProbe = (from, to, w) -> {
            if (bcalls.incrementAndGet() == 1) {
                throw new DeviceOutOfMemoryException("fake:0", 1000, 10, 0, 2000);
            }
        };
        Map<String, Tensor> alone = lastStepGradient(b);
        assertSameGradients(alone, dropped, "step after an out-of-memory retry");
    }

    // ---- learning-rate schedule: per step, cosine identical to mmengine's iteration-based CosineAnnealingLR ----

    @Test
    void cosinePartMatchesMmengineIterationBasedCosineAnnealing() {
        // base 0.08 (batch 64), 2639 steps an epoch, 64 epochs, 4 warm-up epochs (numpy reference figures)
        LrSchedule s = new LrSchedule(0.08, 4, 64, 2639);
        long w = 4 * 2639;
        long n = 64 * 2639;
        assertEquals(0.08, s.lr(w), 1e-15); // first cosine step: the base rate
        assertEquals(0.079945, s.lr(w + 2639), 5e-7); // one epoch into the decay, per step not per epoch
        assertEquals(7.873e-12, s.lr(n - 1), 1e-14); // last step: eta_min 0 is reached at step N, never run
        assertEquals(0.08 / w, s.lr(0), 1e-18); // sevnet's own warm-up: (s + 1) / W (mmaction2: start_factor 0.1)
        assertEquals(0.08, s.lr(w - 1), 1e-15);
    }

    // ---- SGD: torch.optim.SGD, buf = d on the first step ----

    @Test
    void sgdMatchesTorchSgdFromTheFirstStep() {
        float[] w0 = {0.1257302165031433f, -0.13210485875606537f, 0.6404226422309875f, 0.10490011423826218f,
                -0.5356693863868713f};
        float[][] grads = {
                {0.3615950644016266f, 1.3040000200271606f, 0.9470809698104858f, -0.7037352323532104f, -1.2654215097427368f},
                {-0.6232744455337524f, 0.04132597893476486f, -2.32503080368042f, -0.218791663646698f, -1.2459110021591187f},
                {-0.7322673797607422f, -0.5442590117454529f, -0.3163001537322998f, 0.4116305410861969f, 1.042513370513916f}};
        double[] lrs = {0.1, 0.05, 0.02};
        float[] expected = {0.12446625530719757f, -0.33423006534576416f, 0.6521660089492798f, 0.22498413920402527f,
                -0.2677997648715973f};
        try (SgdOptimizerTest.Row m = new SgdOptimizerTest.Row(w0);
                SgdOptimizer opt = new SgdOptimizer(m.namedParameters(), 0.9, 1e-4)) {
            for (int i = 0; i < 3; i++) {
                try (TensorScope sc = TensorScope.open()) {
                    m.forward(Var.of(Tensor.of(grads[i], 1, 5))).backward();
                }
                opt.step(lrs[i]);
                opt.zeroGrad();
            }
            float[] w = m.w.data().toFloatArray();
            for (int i = 0; i < 5; i++) {
                assertEquals(expected[i], w[i], 1e-6, "weight " + i);
            }
        }
    }

    // ---- losses: PyTorch's reduction 'mean' ----

    @Test
    void lossesAreMeansLikePyTorch() {
        float[] x = {2f, -1f, 0.5f, -3f, 0f, 4f};
        try (TensorScope sc = TensorScope.open()) {
            Var logits = Var.leaf(Tensor.of(x, 2, 3));
            Var bce = F.bceWithLogits(logits, Tensor.of(new float[] {1, 0, 1, 0, 0, 1}, 2, 3));
            assertEquals(0.27902519046546653, bce.item(), 1e-6); // mean over N*K
            bce.backward();
            float[] g = logits.grad().toFloatArray();
            double[] ref = {-0.01986715367035295, 0.04482357022833252, -0.0629234447996909, 0.00790431219626113,
                    0.08333333333333333, -0.0029977016603485915};
            for (int i = 0; i < 6; i++) {
                assertEquals(ref[i], g[i], 1e-7);
            }
            Var ce = F.softmaxCrossEntropy(Var.of(Tensor.of(x, 2, 3)), Tensor.ofLongs(new long[] {2, 0}, 2));
            assertEquals(4.380178152268208, ce.item(), 1e-5); // mean over the batch
        }
    }

    // ---- batch norm running statistics and dropout scaling ----

    @Test
    void batchNormUpdatesRunningStatisticsLikePyTorch() {
        // [N=3, C=2, 4, 1, 1]: momentum 0.1, unbiased variance (n = 12 per channel)
        java.util.Random r = new java.util.Random(3);
        float[] x = new float[24];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        double[] mean = new double[2];
        double[] m2 = new double[2];
        for (int n = 0; n < 3; n++) {
            for (int c = 0; c < 2; c++) {
                for (int s = 0; s < 4; s++) {
                    mean[c] += x[(n * 2 + c) * 4 + s] / 12.0;
                }
            }
        }
        for (int n = 0; n < 3; n++) {
            for (int c = 0; c < 2; c++) {
                for (int s = 0; s < 4; s++) {
                    double d = x[(n * 2 + c) * 4 + s] - mean[c];
                    m2[c] += d * d;
                }
            }
        }
        try (BatchNorm3d bn = new BatchNorm3d(2); TensorScope sc = TensorScope.open()) {
            bn.train(true);
            bn.forward(Var.of(Tensor.of(x, 3, 2, 4, 1, 1)));
            float[] rm = bn.runningMean().toFloatArray();
            float[] rv = bn.runningVar().toFloatArray();
            for (int c = 0; c < 2; c++) {
                assertEquals(0.1 * mean[c], rm[c], 1e-6);
                assertEquals(0.9 + 0.1 * m2[c] / 11.0, rv[c], 1e-6);
            }
        }
    }

    @Test
    void dropoutIsInvertedInTrainingAndTheIdentityInEvaluation() {
        int n = 200_000;
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        try (Dropout d = new Dropout(0.5); TensorScope sc = TensorScope.open()) {
            d.train(true);
            float[] y = d.forward(Var.of(Tensor.of(ones, 1, n))).value().toFloatArray();
            double sum = 0;
            int zeros = 0;
            for (float v : y) {
                assertTrue(v == 0f || v == 2f, "kept values are scaled by 1/(1-p)");
                zeros += v == 0f ? 1 : 0;
                sum += v;
            }
            assertEquals(1.0, sum / n, 0.01);
            assertEquals(0.5, zeros / (double) n, 0.01);
            d.train(false);
            Var in = Var.of(Tensor.of(ones, 1, n));
            assertTrue(d.forward(in) == in, "evaluation: identity");
        }
    }
}
