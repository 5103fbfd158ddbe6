package dev.sevnet.backend;

import static dev.sevnet.backend.OpsTestSupport.B;
import static dev.sevnet.backend.OpsTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backend.BatchNormResult;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A training-step-like loop of many ops in per-iteration scopes frees every byte it allocates. */
class CpuBackendLeakTest {

    @Test
    void twoHundredIterationsInScopesLeaveLiveHostBytesUnchanged() {
        long before = MemoryStats.liveHostBytes();
        long blocksBefore = MemoryStats.liveHostBlocks();
        Random r = new Random(301);
        int n = 2, c = 4, t = 2, h = 6, w = 6;
        ConvSpec pool = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build();
        try (TensorScope outer = TensorScope.open()) {
            // long-lived state, like parameters and running statistics, in the outer scope
            Tensor gamma = Tensor.full(Shape.of(c), 1f);
            Tensor beta = Tensor.zeros(Shape.of(c));
            Tensor rm = Tensor.zeros(Shape.of(c));
            Tensor rv = Tensor.full(Shape.of(c), 1f);
            Tensor fc = Tensor.of(randn(r, 3 * c), 3, c);
            Tensor vel = Tensor.zeros(Shape.of(3, c));
            long steady = MemoryStats.liveHostBytes();
            for (int it = 0; it < 200; it++) {
                try (TensorScope step = TensorScope.open()) {
                    Tensor x = Tensor.of(randn(r, n * c * t * h * w), n, c, t, h, w);
                    BatchNormResult bn = B.batchNormTrain(x, gamma, beta, rm, rv, 1e-5, 0.1);
                    Tensor a = B.relu(bn.y());
                    Tensor d = B.dropout(a, 0.2f, it)[0];
                    Tensor s = B.addRelu(d, x);
                    Tensor[] halves = B.splitChannels(s, 1);
                    Tensor cat = B.concatChannels(halves[1], halves[0]);
                    Tensor p = B.avgPool3d(cat, pool);
                    Tensor g = B.sigmoid(B.globalAvgPool(p));
                    Tensor e = B.channelScale(p, g);
                    Tensor feat = B.globalAvgPool(e);
                    Tensor logits = B.linear(feat, fc, null);
                    Tensor[] ce = B.softmaxCrossEntropy(logits, Tensor.ofLongs(new long[] {0, 2}, 2));
                    Tensor dl = B.softmaxCrossEntropyBackward(ce[1], Tensor.ofLongs(new long[] {0, 2}, 2), 1f);
                    Tensor[] lg = B.linearBackward(feat, fc, dl, false);
                    Tensor dfeat = B.globalAvgPoolBackward(lg[0], e.shape());
                    Tensor[] cs = B.channelScaleBackward(p, g, dfeat);
                    Tensor dp = B.avgPool3dBackward(cs[0], pool, cat.shape());
                    Tensor[] bng = B.batchNormBackward(x, B.reluBackward(a, dp.reshape(x.shape())), gamma, bn.saveMean(),
                            bn.saveInvstd());
                    B.axpby(1f, bng[0], 0f, x);
                    B.sgdMomentumStep(fc, lg[1], vel, 0.01f, 0.9f, 1e-4f);
                    assertTrue(Double.isFinite(B.sum(bng[1])));
                }
                assertEquals(steady, MemoryStats.liveHostBytes(), "live host bytes after iteration " + it);
            }
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "live host bytes after the outer scope");
        assertEquals(blocksBefore, MemoryStats.liveHostBlocks(), "live host blocks after the outer scope");
    }
}
