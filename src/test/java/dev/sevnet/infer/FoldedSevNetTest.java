package dev.sevnet.infer;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.nn.BatchNorm3d;
import dev.sevnet.nn.MacCounter;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** BN folding + ReLU fusion gives the eval-mode model's logits. */
public class FoldedSevNetTest {

    /** Non-trivial BN state everywhere: gamma, beta, running mean and variance all random. */
    public static void randomizeBatchNorms(SevNet net, long seed) {
        Random r = new Random(seed);
        for (Module m : net.namedModules().values()) {
            if (m instanceof BatchNorm3d bn) {
                int c = bn.channels();
                float[] g = new float[c];
                float[] b = new float[c];
                float[] mean = new float[c];
                float[] var = new float[c];
                for (int i = 0; i < c; i++) {
                    g[i] = 0.5f + r.nextFloat();
                    b[i] = (float) (0.2 * r.nextGaussian());
                    mean[i] = (float) (0.3 * r.nextGaussian());
                    var[i] = 0.3f + 1.7f * r.nextFloat();
                }
                bn.weight().data().floatBuffer().put(0, g);
                bn.bias().data().floatBuffer().put(0, b);
                bn.runningMean().floatBuffer().put(0, mean);
                bn.runningVar().floatBuffer().put(0, var);
            }
        }
    }

    static Tensor randomClips(Shape s, long seed) {
        Random r = new Random(seed);
        float[] x = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return TensorScope.detach(Tensor.of(x, s));
    }

    /** max |a - b| / max |b| (the parity test's measure). */
    static double relErr(float[] a, float[] b) {
        assertEquals(b.length, a.length);
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            assertTrue(Float.isFinite(a[i]), "non-finite logit");
            diff = Math.max(diff, Math.abs((double) a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return diff / Math.max(scale, 1e-12);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sevnet-g8", "sevnet-se-g8", "r2plus1d-g8", "r3d-g4"})
    void foldedLogitsEqualTheEvalModel(String model) {
        long before = MemoryStats.liveHostBytes();
        SevNetConfig cfg = SevNetConfig.parse(model, 11);
        Shape in = Shape.of(2, 3, 4, 32, 32);
        try (SevNet net = SevNet.create(cfg, 7); Tensor x = randomClips(in, 3)) {
            randomizeBatchNorms(net, 5);
            net.eval();
            try (FoldedSevNet folded = FoldedSevNet.fold(net);
                    GradMode.Guard g = GradMode.noGrad();
                    TensorScope scope = TensorScope.open()) {
                float[] expected = net.forward(Var.of(x)).value().toFloatArray();
                float[] actual = folded.forward(Var.of(x)).value().toFloatArray();
                double err = relErr(actual, expected);
                System.out.printf("%s: folded vs eval-mode logits, max relative error %.2e%n", model, err);
                assertTrue(err <= 1e-4, model + ": max relative error " + err);
                // the folded logits are not trivially small: the test compares something
                double scale = 0;
                for (float v : expected) {
                    scale = Math.max(scale, Math.abs(v));
                }
                assertTrue(scale > 1e-3, "logit scale " + scale);
                // same convolutions, same work; no batch norm left
                MacCounter a = new MacCounter();
                MacCounter b = new MacCounter();
                assertEquals(net.outputShape(in, a), folded.outputShape(in, b));
                assertEquals(a.total(), b.total());
                assertFalse(folded.stateDict().keySet().stream().anyMatch(k -> k.contains("bn")),
                        folded.stateDict().keySet().toString());
                assertTrue(folded.stateDict().containsKey("stages.0.blocks.0.conv1.bias"));
                assertTrue(folded.stateDict().containsKey("stages.0.blocks.0.shortcut.conv.bias"));
            }
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "every folded and source tensor freed");
    }

    @Test
    void foldingReadsTheRunningStatisticsNotTheTrainingFlag() {
        SevNetConfig cfg = SevNetConfig.parse("sevnet-g2", 5);
        try (SevNet net = SevNet.create(cfg, 1); Tensor x = randomClips(Shape.of(1, 3, 4, 32, 32), 9)) {
            randomizeBatchNorms(net, 2);
            try (FoldedSevNet folded = FoldedSevNet.fold(net); // net still in training mode
                    GradMode.Guard g = GradMode.noGrad();
                    TensorScope scope = TensorScope.open()) {
                assertTrue(net.isTraining(), "the source model is left as it was");
                net.eval();
                float[] expected = net.forward(Var.of(x)).value().toFloatArray();
                float[] actual = folded.forward(Var.of(x)).value().toFloatArray();
                assertTrue(relErr(actual, expected) <= 1e-4);
            }
        }
    }
}
