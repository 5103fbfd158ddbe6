package dev.sevnet.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The tiny model of the parity fixture: g = 2, 5 classes, 8×32×32 clips, batch 2. */
class SevNetTest {
    private static final SevNetConfig TINY = SevNetConfig.builder().groupWidth(2).numClasses(5).build();

    private static Tensor clip(long seed) {
        Shape s = Shape.of(2, 3, 8, 32, 32);
        float[] v = new float[Math.toIntExact(s.size())];
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return Tensor.of(v, s);
    }

    @Test
    void stateDictNamesAndShapesFollowArchitecture() {
        try (SevNet net = SevNet.create(TINY, 1)) {
            Map<String, Tensor> sd = net.stateDict();
            Map<String, long[]> expected = new java.util.LinkedHashMap<>();
            expected.put("stem.conv_s.weight", new long[] {8, 3, 1, 7, 7});
            expected.put("stem.bn_s.weight", new long[] {8});
            expected.put("stem.bn_s.bias", new long[] {8});
            expected.put("stem.bn_s.running_mean", new long[] {8});
            expected.put("stem.bn_s.running_var", new long[] {8});
            expected.put("stem.bn_s.num_batches_tracked", new long[] {});
            expected.put("stem.conv_t.weight", new long[] {8, 8, 3, 1, 1});
            expected.put("stem.bn_t.running_var", new long[] {8});
            expected.put("stages.0.blocks.0.conv1.weight", new long[] {8, 8, 1, 1, 1});
            expected.put("stages.0.blocks.0.conv2.weight", new long[] {8, 2, 1, 3, 3});
            expected.put("stages.0.blocks.0.conv3.weight", new long[] {8, 8, 3, 1, 1});
            expected.put("stages.0.blocks.0.bn3.bias", new long[] {8});
            expected.put("stages.0.blocks.0.shortcut.conv.weight", new long[] {8, 8, 1, 1, 1});
            expected.put("stages.0.blocks.0.shortcut.bn.running_mean", new long[] {8});
            expected.put("stages.0.blocks.1.conv2.weight", new long[] {16, 2, 1, 3, 3});
            expected.put("stages.0.blocks.2.conv3.weight", new long[] {16, 16, 3, 1, 1});
            expected.put("stages.1.blocks.0.conv1.weight", new long[] {16, 16, 1, 1, 1});
            expected.put("stages.1.blocks.3.bn2.weight", new long[] {32});
            expected.put("stages.2.blocks.5.conv2.weight", new long[] {64, 2, 1, 3, 3});
            expected.put("stages.3.blocks.0.shortcut.conv.weight", new long[] {64, 64, 1, 1, 1});
            expected.put("stages.3.blocks.2.conv3.weight", new long[] {128, 128, 3, 1, 1});
            expected.put("head.fc.weight", new long[] {5, 128});
            expected.put("head.fc.bias", new long[] {5});
            expected.forEach((name, dims) -> {
                assertTrue(sd.containsKey(name), "missing " + name);
                assertEquals(Shape.of(dims), sd.get(name).shape(), name);
            });
            assertEquals(DType.INT64, sd.get("stem.bn_s.num_batches_tracked").dtype());
            assertEquals(0, sd.get("stem.bn_s.num_batches_tracked").rank());
            // 2 stem convs + 2 stem BNs; per block 3 convs + 3 BNs, plus shortcut conv + BN in 4 downsample blocks; fc
            assertEquals(2 + 2 * 5 + 16 * (3 + 3 * 5) + 4 * (1 + 5) + 2, sd.size());
            assertEquals(net.namedParameters().size() + net.namedBuffers().size(), sd.size());
            List<String> keys = new ArrayList<>(sd.keySet());
            assertEquals("stem.conv_s.weight", keys.get(0));
            assertEquals(List.of("stem.bn_s.weight", "stem.bn_s.bias", "stem.bn_s.running_mean", "stem.bn_s.running_var",
                    "stem.bn_s.num_batches_tracked"), keys.subList(1, 6));
            assertEquals("head.fc.bias", keys.get(keys.size() - 1));
            assertFalse(keys.stream().anyMatch(k -> k.contains("pool") || k.contains("dropout") || k.contains("se.")));
        }
    }

    @Test
    void squeezeExciteVariantAddsSeLinears() {
        try (SevNet net = SevNet.create(TINY.toBuilder().variant(SevNetConfig.Variant.SEVNET_SE).build(), 1)) {
            Map<String, Tensor> sd = net.stateDict();
            assertEquals(Shape.of(32, 128), sd.get("stages.3.blocks.2.se.fc1.weight").shape());
            assertEquals(Shape.of(32), sd.get("stages.3.blocks.2.se.fc1.bias").shape());
            assertEquals(Shape.of(128, 32), sd.get("stages.3.blocks.2.se.fc2.weight").shape());
            assertEquals(Shape.of(2, 8), sd.get("stages.0.blocks.0.se.fc1.weight").shape(),
                    "the downsample block's SE works on the main branch (input width)");
        }
    }

    @Test
    void forwardShapesInTrainAndEval() {
        for (SevNetConfig.Variant v : SevNetConfig.Variant.values()) {
            try (SevNet net = SevNet.create(TINY.toBuilder().variant(v).build(), 3);
                    TensorScope scope = TensorScope.open()) {
                Var x = Var.of(clip(1));
                assertEquals(Shape.of(2, 5), net.forward(x).shape(), v + " train");
                net.eval();
                try (GradMode.Guard g = GradMode.noGrad()) {
                    assertEquals(Shape.of(2, 5), net.forward(x).shape(), v + " eval");
                }
            }
        }
    }

    @Test
    void trainingBackwardReachesEveryParameter() {
        for (SevNetConfig.Variant v : SevNetConfig.Variant.values()) {
            try (SevNet net = SevNet.create(TINY.toBuilder().variant(v).build(), 5)) {
                try (TensorScope scope = TensorScope.open()) {
                    Var logits = net.forward(Var.of(clip(2)));
                    Var loss = F.softmaxCrossEntropy(logits, Tensor.ofLongs(new long[] {1, 3}, 2));
                    loss.backward();
                    assertTrue(Float.isFinite(loss.item()));
                }
                net.namedParameters().forEach((name, p) -> {
                    assertNotNull(p.grad(), v + ": no gradient for " + name);
                    assertEquals(p.shape(), p.grad().shape(), name);
                    assertFalse(p.grad().isClosed(), name + ": the scope must not own parameter gradients");
                });
                double total = 0;
                for (Parameter p : net.parameters()) {
                    for (float f : p.grad().toFloatArray()) {
                        assertTrue(Float.isFinite(f));
                        total += Math.abs(f);
                    }
                }
                assertTrue(total > 0);
                BatchNorm3d bn = (BatchNorm3d) net.namedModules().get("stem.bn_s");
                assertEquals(1, bn.numBatchesTracked());
                net.zeroGrad();
                assertEquals(0.0, dev.sevnet.backend.Backends.cpu().sum(net.parameters().get(0).grad()));
            }
        }
    }

    @Test
    void evalIsDeterministicAndMatchesAFreshLoad() {
        try (SevNet a = SevNet.create(TINY, 11); SevNet b = SevNet.create(TINY, 12);
                SevNet c = SevNet.create(TINY, 11); TensorScope scope = TensorScope.open()) {
            assertArrayEquals(a.stateDict().get("stages.1.blocks.0.conv2.weight").toFloatArray(),
                    c.stateDict().get("stages.1.blocks.0.conv2.weight").toFloatArray(), "same seed, same weights");
            assertFalse(java.util.Arrays.equals(a.stateDict().get("head.fc.weight").toFloatArray(),
                    b.stateDict().get("head.fc.weight").toFloatArray()));
            // move some running statistics away from their initial values, then copy a into b
            a.forward(Var.of(clip(4)));
            b.loadStateDict(a.stateDict(), true);
            a.eval();
            b.eval();
            try (GradMode.Guard g = GradMode.noGrad()) {
                Tensor x = clip(5);
                assertArrayEquals(a.forward(Var.of(x)).value().toFloatArray(), b.forward(Var.of(x)).value().toFloatArray());
            }
            assertEquals(1, ((BatchNorm3d) b.namedModules().get("stages.2.blocks.3.bn1")).numBatchesTracked());
        }
    }

    /**
     * Evaluation without a graph fuses each conv's batch norm, residual add and ReLU into one backend op (on the CPU
     * into the conv's epilogue) and moves the downsample blocks' ReLU before their concat; evaluation that records a
     * graph runs the separate ops. Both give the same logits bit for bit.
     */
    @Test
    void fusedEvaluationIsTheSeparateOpsBitForBit() {
        try (SevNet net = SevNet.create(TINY, 21); TensorScope scope = TensorScope.open()) {
            net.forward(Var.of(clip(6)));  // running statistics away from 0 and 1
            net.forward(Var.of(clip(7)));
            net.eval();
            Tensor x = clip(8);
            float[] fused;
            try (GradMode.Guard g = GradMode.noGrad()) {
                fused = net.forward(Var.of(x)).value().toFloatArray();
            }
            float[] separate;
            try (GradMode.Guard g = GradMode.enableGrad()) {
                Var logits = net.forward(Var.of(x));
                assertTrue(logits.requiresGrad(), "the graph was recorded: the separate ops ran");
                separate = logits.value().toFloatArray();
            }
            assertArrayEquals(separate, fused);
        }
    }

    @Test
    void aFailedTrainingForwardCountsNoBatch() {
        try (BatchNorm3d bn = new BatchNorm3d(4);
                Conv3d conv = new Conv3d(4, 4, dev.sevnet.backend.ConvSpec.of(1));
                TensorScope scope = TensorScope.open()) {
            Var wrongChannels = Var.of(Tensor.zeros(Shape.of(2, 5, 2, 3, 3)));
            assertThrows(IllegalArgumentException.class, () -> bn.forward(wrongChannels));
            assertThrows(IllegalArgumentException.class, () -> bn.forwardRelu(wrongChannels));
            assertThrows(IllegalArgumentException.class, () -> bn.forwardConvRelu(conv, wrongChannels));
            assertEquals(0, bn.numBatchesTracked(), "no batch counted by a failed call");
            bn.forwardConvRelu(conv, Var.of(Tensor.zeros(Shape.of(2, 4, 2, 3, 3))));
            assertEquals(1, bn.numBatchesTracked());
        }
    }

    @Test
    void loadStateDictNamesTheBadTensor() {
        try (SevNet net = SevNet.create(TINY, 1); SevNet other = SevNet.create(TINY, 2);
                TensorScope scope = TensorScope.open()) {
            Map<String, Tensor> state = new HashMap<>(other.stateDict());
            float before = net.stateDict().get("head.fc.weight").getFloat(0);

            state.remove("stages.1.blocks.2.bn2.running_var");
            IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                    () -> net.loadStateDict(state, true));
            assertTrue(missing.getMessage().contains("missing tensor 'stages.1.blocks.2.bn2.running_var'"),
                    missing.getMessage());
            assertEquals(before, net.stateDict().get("head.fc.weight").getFloat(0), "nothing is copied on error");
            net.loadStateDict(state, false);
            assertEquals(other.stateDict().get("head.fc.weight").getFloat(0),
                    net.stateDict().get("head.fc.weight").getFloat(0));

            Map<String, Tensor> extra = new HashMap<>(other.stateDict());
            extra.put("stages.0.blocks.0.se.fc1.weight", Tensor.zeros(Shape.of(2, 8)));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> net.loadStateDict(extra, true)).getMessage()
                    .contains("unexpected tensor 'stages.0.blocks.0.se.fc1.weight'"));

            Map<String, Tensor> badShape = new HashMap<>(other.stateDict());
            badShape.put("stages.0.blocks.0.conv2.weight", Tensor.zeros(Shape.of(8, 8, 1, 3, 3)));
            String msg = assertThrows(IllegalArgumentException.class, () -> net.loadStateDict(badShape, false))
                    .getMessage();
            assertTrue(msg.contains("'stages.0.blocks.0.conv2.weight' has shape [8, 8, 1, 3, 3], expected [8, 2, 1, 3, 3]"),
                    msg);

            Map<String, Tensor> badType = new HashMap<>(other.stateDict());
            badType.put("stem.bn_t.num_batches_tracked", Tensor.zeros(Shape.of(), DType.FLOAT32));
            msg = assertThrows(IllegalArgumentException.class, () -> net.loadStateDict(badType, true)).getMessage();
            assertTrue(msg.contains("'stem.bn_t.num_batches_tracked' has dtype FLOAT32, expected INT64"), msg);
        }
    }

    @Test
    void closingTheModelFreesAllMemory() {
        long start = MemoryStats.liveHostBytes();
        long blocks = MemoryStats.liveHostBlocks();
        try (SevNet net = SevNet.create(TINY.toBuilder().variant(SevNetConfig.Variant.SEVNET_SE).build(), 9)) {
            try (TensorScope scope = TensorScope.open()) {
                F.softmaxCrossEntropy(net.forward(Var.of(clip(3))), Tensor.ofLongs(new long[] {0, 4}, 2)).backward();
            }
            assertTrue(MemoryStats.liveHostBytes() > start);
        }
        assertEquals(start, MemoryStats.liveHostBytes());
        assertEquals(blocks, MemoryStats.liveHostBlocks());
    }

    @Test
    void rejectsInputThatIsNotAnRgbClip() {
        try (SevNet net = SevNet.create(TINY, 1); TensorScope scope = TensorScope.open()) {
            assertThrows(IllegalArgumentException.class, () -> net.forward(Var.of(Tensor.zeros(Shape.of(1, 4, 8, 32, 32)))));
        }
    }
}
