package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.infer.FoldedSevNet;
import dev.sevnet.infer.FoldedSevNetTest;
import dev.sevnet.infer.Prediction;
import dev.sevnet.infer.Predictor;
import dev.sevnet.nn.Parameter;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The channels-last model path without a GPU. The CPU backend runs every op of a channels-last tensor on NCDHW copies
 * of the same kernels, so a channels-last run must equal the contiguous one <b>bit for bit</b>: what this tests is
 * the plumbing the GPU path shares — the format of every activation, gradient, weight and momentum through the model,
 * autograd, the optimizer, the trainer, checkpoints, the folded model and the Predictor. (The CUDA backend's own
 * NDHWC ops: CudaChannelsLastTest, on a GPU.)
 */
class ChannelsLastCpuTest {
    static final CpuBackend cpu = CpuBackend.get();

    static Tensor rand(Random r, long... dims) {
        Shape s = Shape.of(dims);
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, s);
    }

    static Tensor cl(Tensor t) {
        return cpu.toMemoryFormat(t, MemoryFormat.CHANNELS_LAST);
    }

    /** op on contiguous and on channels-last inputs: the same values, and a channels-last 5-D result. */
    static void same(String what, Function<Boolean, Tensor> op) {
        try (Tensor a = op.apply(false); Tensor b = op.apply(true)) {
            assertEquals(a.shape(), b.shape(), what);
            if (b.rank() == 5) {
                assertTrue(b.isChannelsLast() || MemoryFormat.isLayoutInvariant(b.shape()), what + ": " + b);
            }
            assertArrayEquals(a.toFloatArray(), b.toFloatArray(), what);
        }
    }

    @Test
    void everyOpGivesTheContiguousValues() {
        Random r = new Random(1);
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = rand(r, 2, 8, 3, 6, 6);
            Tensor x2 = rand(r, 2, 8, 3, 6, 6);
            Tensor w = rand(r, 8, 2, 1, 3, 3);
            Tensor b = rand(r, 8);
            Tensor g = rand(r, 2, 8);
            Tensor gamma = rand(r, 8);
            Tensor beta = rand(r, 8);
            ConvSpec grouped = new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 4);
            Shape ys = grouped.outputShape(x.shape(), 8);
            Tensor dy = rand(r, ys.get(0), ys.get(1), ys.get(2), ys.get(3), ys.get(4));
            Tensor xc = cl(x);
            Tensor x2c = cl(x2);
            Tensor wc = cl(w);
            Tensor dyc = cl(dy);
            same("conv", f -> cpu.conv3d(f ? xc : x, f ? wc : w, b, grouped, true));
            same("conv, contiguous weight", f -> cpu.conv3d(f ? xc : x, w, b, grouped, false));
            Tensor w1 = rand(r, 8, 8, 1, 1, 1);
            same("conv residual", f -> cpu.conv3dResidual(f ? xc : x, w1, b, ConvSpec.of(1), f ? x2c : x2, true));
            same("conv backward data", f -> cpu.conv3dBackwardData(f ? dyc : dy, f ? wc : w, grouped, x.shape()));
            same("conv backward weight", f -> cpu.conv3dBackwardWeight(f ? xc : x, f ? dyc : dy, grouped, w.shape()));
            try (Tensor rm = Tensor.zeros(Shape.of(8)); Tensor rv = Tensor.full(Shape.of(8), 1f);
                    Tensor rm2 = Tensor.zeros(Shape.of(8)); Tensor rv2 = Tensor.full(Shape.of(8), 1f)) {
                same("batch norm train", f -> cpu.batchNormTrainAct(f ? xc : x, f ? x2c : x2, gamma, beta, f ? rm2 : rm,
                        f ? rv2 : rv, 1e-5, 0.1, true).y());
                assertArrayEquals(rm.toFloatArray(), rm2.toFloatArray(), "running mean");
                same("batch norm eval", f -> cpu.batchNormEval(f ? xc : x, gamma, beta, rm, rv, 1e-5, true));
            }
            Backendless.BnSaved s = Backendless.bn(x, gamma, beta);
            same("batch norm backward", f -> cpu.batchNormActBackward(f ? xc : x, f ? cl(s.y()) : s.y(),
                    f ? x2c : x2, gamma, s.mean(), s.invstd(), true, true)[0]);
            same("relu", f -> cpu.relu(f ? xc : x));
            same("relu backward", f -> cpu.reluBackward(f ? xc : x, f ? x2c : x2));
            same("add+relu", f -> cpu.addRelu(f ? xc : x, f ? x2c : x2));
            same("mul", f -> cpu.mul(f ? xc : x, f ? x2c : x2));
            same("sigmoid", f -> cpu.sigmoid(f ? xc : x));
            same("concat", f -> cpu.concatChannels(f ? xc : x, f ? x2c : x2));
            same("split", f -> cpu.splitChannels(f ? xc : x, 3)[1]);
            same("channel scale", f -> cpu.channelScale(f ? xc : x, g));
            same("channel scale backward", f -> cpu.channelScaleBackward(f ? xc : x, g, f ? x2c : x2)[0]);
            same("channel scale backward dg", f -> cpu.channelScaleBackward(f ? xc : x, g, f ? x2c : x2)[1]);
            ConvSpec window = new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 1);
            same("avg-pool", f -> cpu.avgPool3d(f ? xc : x, window));
            same("avg-pool backward", f -> cpu.avgPool3dBackward(f ? dyc : dy, window, x.shape()));
            same("global avg-pool", f -> cpu.globalAvgPool(f ? xc : x));
            same("global avg-pool backward", f -> cpu.globalAvgPoolBackward(g, x.shape(), DType.FLOAT32,
                    f ? MemoryFormat.CHANNELS_LAST : MemoryFormat.CONTIGUOUS));
            same("cast", f -> cpu.cast(f ? xc : x, DType.BFLOAT16));
            try (Tensor back = cpu.toMemoryFormat(xc, MemoryFormat.CONTIGUOUS)) {
                assertEquals(MemoryFormat.CONTIGUOUS, back.memoryFormat());
                assertArrayEquals(x.toFloatArray(), back.toFloatArray(), "reorder round trip");
            }
            assertEquals(cpu.sum(x), cpu.sum(xc), 1e-9 * Math.abs(cpu.sum(x)) + 1e-9, "sum");
        }
    }

    /** Batch norm's saved statistics, for the backward test. */
    static final class Backendless {
        record BnSaved(Tensor y, Tensor mean, Tensor invstd) {
        }

        static BnSaved bn(Tensor x, Tensor gamma, Tensor beta) {
            var r = cpu.batchNormTrainAct(x, null, gamma, beta, null, null, 1e-5, 0.1, true);
            return new BnSaved(r.y(), r.saveMean(), r.saveInvstd());
        }
    }

    /** A conv's weight gradient comes in the weight's format, whatever the activations': they pair in the update. */
    @Test
    void weightGradientsFollowTheWeightsFormat() {
        Random r = new Random(3);
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = rand(r, 2, 8, 3, 6, 6);
            Var w = Var.parameter(rand(r, 8, 2, 1, 3, 3));
            ConvSpec grouped = new ConvSpec(1, 3, 3, 1, 1, 1, 0, 1, 1, 4);
            Var y = F.conv3d(Var.of(cl(x)), w, null, grouped);
            assertTrue(y.value().isChannelsLast());
            F.globalAvgPool(y).backward(Tensor.full(Shape.of(2, 8), 1f));
            assertEquals(MemoryFormat.CONTIGUOUS, w.grad().memoryFormat(), "contiguous weight, channels-last x");
            Var wc = Var.parameter(cl(rand(r, 8, 2, 1, 3, 3)));
            F.globalAvgPool(F.conv3d(Var.of(x), wc, null, grouped)).backward(Tensor.full(Shape.of(2, 8), 1f));
            assertTrue(wc.grad().isChannelsLast(), "channels-last weight, contiguous x");
        }
    }

    /** Three SGD steps of a training-mode SEVNet (downsample blocks: concat, shortcut pooling; SE) in both formats. */
    @ParameterizedTest
    @ValueSource(strings = {"sevnet-g2", "sevnet-se-g2"})
    void trainingStepsAreTheContiguousOnesBitForBit(String model) {
        SevNetConfig cfg = SevNetConfig.parse(model, 5);
        Random r = new Random(2);
        try (SevNet a = SevNet.create(cfg, 3); SevNet b = SevNet.create(cfg, 3); Tensor x = rand(r, 2, 3, 4, 32, 32);
                Tensor labels = Tensor.ofLongs(new long[] {1, 4}, 2);
                SgdOptimizer oa = new SgdOptimizer(a.namedParameters(), 0.9, 1e-4);
                SgdOptimizer ob = new SgdOptimizer(b.namedParameters(), 0.9, 1e-4)) {
            b.toMemoryFormat(MemoryFormat.CHANNELS_LAST);
            assertEquals(MemoryFormat.CHANNELS_LAST, b.activationFormat());
            long clWeights = b.namedParameters().values().stream().filter(p -> p.data().isChannelsLast()).count();
            assertTrue(clWeights > 10, "conv weights are channels-last: " + clWeights);
            a.train(true);
            b.train(true);
            for (int step = 0; step < 3; step++) {
                try (TensorScope scope = TensorScope.open()) {
                    float[] la = lossAndBackward(a, x, labels);
                    float[] lb = lossAndBackward(b, x, labels);
                    assertArrayEquals(la, lb, "step " + step + " logits and loss");
                    Map<String, Parameter> pb = b.namedParameters();
                    for (var e : a.namedParameters().entrySet()) {
                        Tensor gb = pb.get(e.getKey()).grad();
                        if (gb.rank() == 5 && !MemoryFormat.isLayoutInvariant(gb.shape())) {
                            assertTrue(gb.isChannelsLast(), e.getKey() + " gradient " + gb);
                        }
                        assertArrayEquals(e.getValue().grad().toFloatArray(), gb.toFloatArray(), e.getKey() + " grad");
                    }
                }
                oa.step(0.05);
                ob.step(0.05);
                a.zeroGrad();
                b.zeroGrad();
            }
            Map<String, Tensor> sa = a.stateDict();
            Map<String, Tensor> sb = b.stateDict();
            for (var e : sa.entrySet()) {
                assertArrayEquals(e.getValue().toFloatArray(), sb.get(e.getKey()).toFloatArray(), e.getKey());
            }
            // a file written from a channels-last model holds NCDHW bytes (Safetensors stages it through toHostCopy)
            try {
                Path f = java.nio.file.Files.createTempFile("cl", ".safetensors");
                dev.sevnet.nn.io.Safetensors.write(f, sb);
                Map<String, Tensor> back = dev.sevnet.nn.io.Safetensors.read(f);
                try {
                    for (var e : sa.entrySet()) {
                        assertArrayEquals(e.getValue().toFloatArray(), back.get(e.getKey()).toFloatArray(), "file " + e.getKey());
                    }
                } finally {
                    back.values().forEach(Tensor::close);
                    java.nio.file.Files.deleteIfExists(f);
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            Map<String, Tensor> va = oa.stateDict();
            Map<String, Tensor> vb = ob.stateDict();
            for (var e : va.entrySet()) {
                assertArrayEquals(e.getValue().toFloatArray(), vb.get(e.getKey()).toFloatArray(), "momentum " + e.getKey());
            }
        }
    }

    /** The same under bf16 autocast (the mixed-precision path: 16-bit casts of weights and activations keep formats). */
    @Test
    void aMixedPrecisionStepIsTheContiguousOneBitForBit() {
        SevNetConfig cfg = SevNetConfig.parse("sevnet-se-g2", 5);
        Random r = new Random(6);
        try (SevNet a = SevNet.create(cfg, 3); SevNet b = SevNet.create(cfg, 3); Tensor x = rand(r, 2, 3, 4, 32, 32);
                Tensor labels = Tensor.ofLongs(new long[] {0, 3}, 2)) {
            b.toMemoryFormat(MemoryFormat.CHANNELS_LAST);
            a.train(true);
            b.train(true);
            try (TensorScope scope = TensorScope.open();
                    dev.sevnet.autograd.Autocast.Guard g = dev.sevnet.autograd.Autocast.enable(DType.BFLOAT16)) {
                assertArrayEquals(lossAndBackward(a, x, labels), lossAndBackward(b, x, labels), "bf16 logits and loss");
            }
            Map<String, Parameter> pb = b.namedParameters();
            for (var e : a.namedParameters().entrySet()) {
                Tensor gb = pb.get(e.getKey()).grad();
                if (!MemoryFormat.isLayoutInvariant(gb.shape())) { // a 1x1x1 weight's bytes are the same either way
                    assertEquals(pb.get(e.getKey()).data().memoryFormat(), gb.memoryFormat(), e.getKey() + " format");
                }
                assertArrayEquals(e.getValue().grad().toFloatArray(), gb.toFloatArray(), e.getKey() + " bf16 grad");
            }
        }
    }

    /** The audit's cases: formats carried through derived models, gradients and configs; int8 reads NCDHW. */
    @Test
    void derivedModelsGradientsConfigsAndInt8KeepOrReadTheRightLayout() {
        SevNetConfig cfg = SevNetConfig.parse("sevnet-g2", 5);
        Random r = new Random(8);
        try (SevNet a = SevNet.create(cfg, 3); SevNet b = SevNet.create(cfg, 3); Tensor x = rand(r, 2, 3, 4, 32, 32);
                Tensor labels = Tensor.ofLongs(new long[] {2, 4}, 2)) {
            a.train(true);
            b.train(true);
            // converting after a backward pass converts the gradients too: the next backward adds into them
            try (TensorScope scope = TensorScope.open()) {
                lossAndBackward(a, x, labels);
                lossAndBackward(b, x, labels);
                b.toMemoryFormat(MemoryFormat.CHANNELS_LAST);
                assertArrayEquals(lossAndBackward(a, x, labels), lossAndBackward(b, x, labels));
                for (var e : a.namedParameters().entrySet()) {
                    assertArrayEquals(e.getValue().grad().toFloatArray(),
                            b.namedParameters().get(e.getKey()).grad().toFloatArray(), e.getKey());
                }
            }
            // fold and withNewHead keep the layout
            b.eval();
            a.eval();
            try (FoldedSevNet f = FoldedSevNet.fold(b); SevNet head = b.withNewHead(3, 1)) {
                assertEquals(MemoryFormat.CHANNELS_LAST, f.activationFormat());
                assertEquals(MemoryFormat.CHANNELS_LAST, head.activationFormat());
                // int8 packs NCDHW bytes whatever the folded model's layout
                try (FoldedSevNet fa = FoldedSevNet.fold(a); GradMode.Guard g = GradMode.noGrad();
                        dev.sevnet.infer.QuantizedSevNet qa = dev.sevnet.infer.QuantizedSevNet.quantize(fa, List.of(x));
                        dev.sevnet.infer.QuantizedSevNet qb = dev.sevnet.infer.QuantizedSevNet.quantize(f, List.of(x));
                        TensorScope scope = TensorScope.open()) {
                    assertArrayEquals(qa.forward(Var.of(x)).value().toFloatArray(),
                            qb.forward(Var.of(x)).value().toFloatArray(), "int8 logits");
                }
            }
        }
        // a run config names its format in any documented spelling; anything else is an error, not contiguous
        String json = TrainConfig.builder().build().toJson();
        for (String spelling : List.of("channels-last", "channels_last", "NDHWC", "CHANNELS_LAST")) {
            com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(json).getAsJsonObject();
            o.addProperty("memoryFormat", spelling);
            assertEquals(MemoryFormat.CHANNELS_LAST, TrainConfig.fromJson(o.toString()).memoryFormat(), spelling);
        }
        com.google.gson.JsonObject bad = com.google.gson.JsonParser.parseString(json).getAsJsonObject();
        bad.addProperty("memoryFormat", "bogus");
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.fromJson(bad.toString()));
    }

    @Test
    void sixteenBitInPlaceUpdatesTakeChannelsLast() {
        Random r = new Random(9);
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = cpu.cast(rand(r, 2, 4, 3, 5, 5), DType.BFLOAT16);
            Tensor y = cpu.cast(rand(r, 2, 4, 3, 5, 5), DType.BFLOAT16);
            Tensor yc = cl(y);
            cpu.axpby(0.5f, x, 2f, y);
            cpu.axpby(0.5f, cl(x), 2f, yc);
            assertTrue(yc.isChannelsLast());
            assertArrayEquals(y.toFloatArray(), yc.toFloatArray(), "bf16 axpby");
        }
    }

    /**
     * A layout-invariant activation (one position per clip, or one channel) labelled channels-last gives results
     * labelled channels-last, as the CUDA backend's NDHWC path does, with the contiguous values; a non-invariant
     * result (dx of a stride-2 conv back to 2x2) is reordered for real.
     */
    @Test
    void layoutInvariantChannelsLastInputsGiveChannelsLastResults() {
        Random r = new Random(10);
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = rand(r, 2, 6, 1, 1, 1);
            Tensor xcl = cl(x);
            assertTrue(xcl.isChannelsLast() && MemoryFormat.isLayoutInvariant(xcl.shape()));
            Tensor w = rand(r, 4, 6, 1, 1, 1);
            Tensor y = cpu.conv3d(xcl, w, ConvSpec.of(1));
            assertTrue(y.isChannelsLast(), y.toString());
            assertArrayEquals(cpu.conv3d(x, w, ConvSpec.of(1)).toFloatArray(), y.toFloatArray());
            Tensor relu = cpu.relu(xcl);
            assertTrue(relu.isChannelsLast(), relu.toString());
            ConvSpec down = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build();
            Tensor w2 = rand(r, 4, 6, 1, 3, 3);
            Tensor dy = rand(r, 2, 4, 1, 1, 1);
            Shape xs = Shape.of(2, 6, 1, 2, 2);
            Tensor dx = cpu.conv3dBackwardData(cl(dy), w2, down, xs);
            assertTrue(dx.isChannelsLast() && !MemoryFormat.isLayoutInvariant(dx.shape()), dx.toString());
            assertArrayEquals(cpu.conv3dBackwardData(dy, w2, down, xs).toFloatArray(), dx.toFloatArray());
        }
    }

    private static float[] lossAndBackward(SevNet net, Tensor x, Tensor labels) {
        Var logits = net.forward(Var.of(x));
        Var loss = F.softmaxCrossEntropy(logits, labels);
        loss.backward();
        float[] l = logits.value().toFloatArray();
        float[] out = java.util.Arrays.copyOf(l, l.length + 1);
        out[l.length] = loss.value().toFloatArray()[0];
        return out;
    }

    @Test
    void theFoldedModelAndThePredictorGiveTheContiguousLogits() {
        List<String> labels = List.of("a", "b", "c", "d", "e");
        Random r = new Random(4);
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-se-g2", labels.size()), 7);
                Tensor clip = rand(r, 3, 4, 32, 32); Tensor batch = rand(r, 2, 3, 4, 32, 32)) {
            FoldedSevNetTest.randomizeBatchNorms(net, 5);
            net.eval();
            try (FoldedSevNet plain = FoldedSevNet.fold(net); FoldedSevNet cl = FoldedSevNet.fold(net);
                    GradMode.Guard g = GradMode.noGrad(); TensorScope scope = TensorScope.open()) {
                cl.toMemoryFormat(MemoryFormat.CHANNELS_LAST);
                assertArrayEquals(plain.forward(Var.of(batch)).value().toFloatArray(),
                        cl.forward(Var.of(batch)).value().toFloatArray(), "folded logits");
            }
            try (Predictor plain = Predictor.builder().model(net, labels).device("cpu").frames(4).size(32).build();
                    Predictor cl = Predictor.builder().model(net, labels).device("cpu").frames(4).size(32)
                            .memoryFormat(MemoryFormat.CHANNELS_LAST).build()) {
                Prediction a = plain.predict(clip);
                Prediction b = cl.predict(clip);
                assertArrayEquals(a.logits(), b.logits(), "predictor logits");
                assertEquals(MemoryFormat.CHANNELS_LAST, cl.memoryFormat());
                assertEquals(MemoryFormat.CONTIGUOUS, plain.memoryFormat());
            }
        }
    }

    /** A whole run through the Trainer (data in code, validation, checkpoints) in both formats: the same weights. */
    @Test
    void aChannelsLastRunTrainsTheSameModel(@TempDir Path dir) throws Exception {
        TrainConfig contiguous = TrainerApiTest.config(2).toBuilder().dropout(0).build();
        TrainConfig channelsLast = contiguous.toBuilder().memoryFormat(MemoryFormat.CHANNELS_LAST).build();
        Trainer.Result ra = new Trainer(contiguous, dir.resolve("a"), Progress.Mode.QUIET).writeCurves(false)
                .data(new TrainerApiTest.Ramps(16, 1), new TrainerApiTest.Ramps(8, 2)).run();
        Trainer.Result rb = new Trainer(channelsLast, dir.resolve("b"), Progress.Mode.QUIET).writeCurves(false)
                .data(new TrainerApiTest.Ramps(16, 1), new TrainerApiTest.Ramps(8, 2)).run();
        assertEquals(ra.finalVal().toString(), rb.finalVal().toString());
        assertEquals(ra.steps(), rb.steps());
        Map<String, Tensor> wa = Checkpoint.readModel(dir.resolve("a").resolve("checkpoints").resolve("last"));
        Map<String, Tensor> wb = Checkpoint.readModel(dir.resolve("b").resolve("checkpoints").resolve("last"));
        try {
            for (var e : wa.entrySet()) {
                assertArrayEquals(e.getValue().toFloatArray(), wb.get(e.getKey()).toFloatArray(), e.getKey());
            }
            assertEquals(MemoryFormat.CHANNELS_LAST, Checkpoint.readState(dir.resolve("b").resolve("checkpoints")
                    .resolve("last")).config().memoryFormat());
        } finally {
            wa.values().forEach(Tensor::close);
            wb.values().forEach(Tensor::close);
        }
    }
}
