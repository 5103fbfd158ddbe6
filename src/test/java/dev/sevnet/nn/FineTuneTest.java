package dev.sevnet.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.infer.Prediction;
import dev.sevnet.infer.Predictor;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.SgdOptimizer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Fine-tuning from a program: a new head, frozen layers, and serving the model without writing a file. */
class FineTuneTest {
    static Tensor clips(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * 3 * 4 * 16 * 16];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return Tensor.of(x, n, 3, 4, 16, 16);
    }

    @Test
    void aNewHeadKeepsTheBodyAndOnlyUnfrozenParametersTrain() {
        long before = MemoryStats.liveHostBytes();
        try (SevNet pretrained = SevNet.create(SevNetConfig.parse("sevnet-g1", 10), 1);
                SevNet net = pretrained.withNewHead(3, 2)) {
            assertEquals(Shape.of(3, 64), net.namedParameters().get("head.fc.weight").shape());
            assertArrayEquals(pretrained.namedParameters().get("stages.1.blocks.0.conv2.weight").data().toFloatArray(),
                    net.namedParameters().get("stages.1.blocks.0.conv2.weight").data().toFloatArray());

            net.stem().requiresGrad(false);
            net.stages().requiresGrad(false);
            Map<String, float[]> start = new HashMap<>();
            net.namedParameters().forEach((k, p) -> start.put(k, p.data().toFloatArray()));
            try (SgdOptimizer opt = new SgdOptimizer(net.namedParameters(), 0.9, 1e-4)) {
                for (int step = 0; step < 2; step++) {
                    try (TensorScope s = TensorScope.open(); Tensor x = clips(2, step);
                            Tensor y = Tensor.ofLongs(new long[] {0, 2}, 2)) {
                        Var loss = F.softmaxCrossEntropy(net.forward(Var.of(x)), y);
                        loss.backward();
                        for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
                            boolean head = e.getKey().startsWith("head.");
                            if (head) {
                                assertNotNull(e.getValue().grad(), e.getKey());
                            } else {
                                assertNull(e.getValue().grad(), "frozen: " + e.getKey());
                            }
                        }
                        opt.step(0.1);
                        opt.zeroGrad();
                    }
                }
            }
            net.namedParameters().forEach((k, p) -> {
                boolean changed = !java.util.Arrays.equals(start.get(k), p.data().toFloatArray());
                assertEquals(k.startsWith("head."), changed, k);
            });
            net.requiresGrad(true);
            assertTrue(net.namedParameters().values().stream().allMatch(Parameter::requiresGrad));
        }
        assertEquals(before, MemoryStats.liveHostBytes());
    }

    @Test
    void aModelInThisJvmIsServedWithoutAFileAndStaysTheCallers() {
        List<String> labels = List.of("a", "b", "c");
        Prediction direct;
        float[] expected;
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g1", 3), 4)) {
            net.eval();
            try (Tensor x = clips(1, 9); TensorScope s = TensorScope.open(); GradMode.Guard g = GradMode.noGrad()) {
                expected = net.forward(Var.of(x)).value().toFloatArray();
            }
            Predictor p = Predictor.builder().model(net, labels).frames(4).size(16).device("cpu").build();
            net.close(); // the predictor holds its own copy of the weights
            try (p; Tensor x = clips(1, 9)) {
                direct = p.predict(x.reshape(3, 4, 16, 16));
            }
        }
        for (int k = 0; k < 3; k++) {
            assertEquals(expected[k], direct.logits()[k], 1e-4 * (1 + Math.abs(expected[k])), "logit " + k);
        }
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g1", 3), 4)) {
            assertThrows(IllegalArgumentException.class,
                    () -> Predictor.builder().model(net, List.of("only", "two")).device("cpu").build());
        }
    }

    @Test
    void dropoutStatesLetAHandWrittenLoopResumeWithTheSameMasks() {
        SevNetConfig c = SevNetConfig.parse("sevnet-g1", 3).toBuilder().dropout(0.5).build();
        try (SevNet a = SevNet.create(c, 3); SevNet b = SevNet.create(c, 3); Tensor x = clips(2, 1)) {
            try (TensorScope s = TensorScope.open()) {
                a.forward(Var.of(x)); // one training forward: the masks moved on
            }
            Map<String, long[]> saved = Dropout.states(a);
            assertEquals(1, saved.size());
            Dropout.restore(b, saved);
            try (TensorScope s = TensorScope.open()) {
                assertArrayEquals(a.forward(Var.of(x)).value().toFloatArray(), b.forward(Var.of(x)).value().toFloatArray(),
                        "the same next mask");
            }
            assertThrows(IllegalArgumentException.class, () -> Dropout.restore(b, Map.of("stem", new long[] {1, 2})));
        }
    }
}
