package dev.sevnet.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.nn.Parameter;
import dev.sevnet.nn.SevBlock;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link Autocast} and {@link F#cast} on the CPU (the 16-bit reference ops): the scope, the cast's gradient, a conv
 * under autocast, one training step of one block of every variant (standard and downsample) and of every whole
 * SEVNet variant in bf16 / fp16 against the same step in fp32.
 *
 * <p>Measure: per tensor, {@code ||g16 - g32|| / ||g32||}. Per block (input: 16-bit values, [4, 16, 4, 8, 8]) the
 * output stays within a 16-bit rounding or two of fp32's (measured: bf16 3.2e-3..4.9e-3, fp16 3.9e-4..6.5e-4) and every
 * parameter gradient within {@link #BLOCK_GRAD_TOL_BF16} / {@link #BLOCK_GRAD_TOL_FP16} (measured worst: bf16
 * 8.0e-2..1.5e-1, fp16 1.4e-3..5.8e-2, mostly a batch-norm bias or weight gradient: their exact value is a sum that
 * nearly cancels — batch norm's dx sums to zero per channel — so the 16-bit roundings of the terms show relative to a
 * small result). A whole freshly initialised SEVNet in training mode is chaotic: fp32 itself, run on the input
 * rounded to bf16 (a 2^-9 relative change of the clip), moves the logits by 3.6e-2..1.3e-1 and the parameter
 * gradients by 0.58..0.92 on average (rounded to fp16: 4e-3..2e-2 and 0.18..0.39); so the whole-model check bounds the 16-bit step's difference from fp32 by a multiple of
 * that fp32 baseline ({@link #MODEL_LOGIT_RATIO}, {@link #MODEL_GRAD_RATIO}; measured ratios 2.3..4.7 for the
 * logits, 1.4..2.6 for the mean gradient error) and checks every gradient float32 and finite.
 */
public class AutocastTest {
    static final double BLOCK_OUT_TOL_BF16 = 1e-2;
    static final double BLOCK_OUT_TOL_FP16 = 2e-3;
    static final double BLOCK_GRAD_TOL_BF16 = 0.25;
    static final double BLOCK_GRAD_TOL_FP16 = 0.1;
    static final double MODEL_LOGIT_RATIO = 6;
    static final double MODEL_GRAD_RATIO = 3.5;
    /** fp16 step: the loss gradient scaled by this (as a LossScaler would), the gradients divided by it after. */
    static final float FP16_LOSS_SCALE = 1024f;

    static Tensor rand(Random r, long... dims) {
        Shape s = Shape.of(dims);
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, s);
    }

    @Test
    void scopeNestsRestoresAndRejectsNonFloatingTypes() {
        assertNull(Autocast.dtype());
        try (Autocast.Guard a = Autocast.enable(DType.BFLOAT16)) {
            assertEquals(DType.BFLOAT16, Autocast.dtype());
            try (Autocast.Guard b = Autocast.disable()) {
                assertNull(Autocast.dtype());
                try (Autocast.Guard c = Autocast.enable(DType.FLOAT16)) {
                    assertEquals(DType.FLOAT16, Autocast.dtype());
                }
                assertNull(Autocast.dtype());
            }
            try (Autocast.Guard f = Autocast.enable(DType.FLOAT32)) {
                assertNull(Autocast.dtype(), "FLOAT32 turns it off");
            }
            assertEquals(DType.BFLOAT16, Autocast.dtype());
        }
        assertNull(Autocast.dtype());
        assertThrows(IllegalArgumentException.class, () -> Autocast.enable(DType.INT64));
    }

    @Test
    void castRoundsForwardAndCastsTheGradientBack() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.of(new float[] {1f, 1.00390625f, -3.3f, 65536f * 2}, 4);
            Var leaf = Var.leaf(x);
            assertSame(leaf, F.cast(leaf, DType.FLOAT32), "same type: the Var itself");
            Var h = F.cast(leaf, DType.FLOAT16);
            assertEquals(DType.FLOAT16, h.value().dtype());
            float[] hv = h.value().toFloatArray();
            assertEquals(1f, hv[0]);
            assertEquals(Half.toFloat(Half.fromFloat(-3.3f)), hv[2]);
            assertEquals(Float.POSITIVE_INFINITY, hv[3], "beyond the fp16 range");
            Var b = F.cast(leaf, DType.BFLOAT16);
            try (Tensor seed = dev.sevnet.backend.Backends.cpu().cast(Tensor.of(new float[] {0.5f, 2f, -1f, 3f}, 4),
                    DType.BFLOAT16)) {
                b.backward(seed);
            }
            assertEquals(DType.FLOAT32, leaf.grad().dtype(), "a float32 leaf gets a float32 gradient");
            assertArrayEquals(new float[] {0.5f, 2f, -1f, 3f}, leaf.grad().toFloatArray());
            try (GradMode.Guard g = GradMode.noGrad()) {
                assertTrue(F.cast(leaf, DType.BFLOAT16).isLeaf(), "nothing recorded without grad mode");
            }
        }
    }

    @Test
    void convUnderAutocastRunsIn16BitWithFloat32MasterWeightGradients() {
        Random r = new Random(3);
        ConvSpec spec = ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(2).build();
        try (TensorScope scope = TensorScope.open(); Tensor x = rand(r, 2, 4, 2, 5, 5); Tensor w = rand(r, 4, 2, 1, 3, 3)) {
            Var xv = Var.leaf(x);
            Var wv = Var.leaf(w);
            Var y;
            try (Autocast.Guard g = Autocast.enable(DType.BFLOAT16)) {
                y = F.conv3d(xv, wv, spec);
            }
            assertEquals(DType.BFLOAT16, y.value().dtype());
            try (Tensor seed = dev.sevnet.backend.Backends.cpu().cast(rand(r, y.shape().dims()), DType.BFLOAT16)) {
                y.backward(seed);
            }
            assertEquals(DType.FLOAT32, xv.grad().dtype());
            assertEquals(DType.FLOAT32, wv.grad().dtype());
            assertEquals(DType.FLOAT32, w.dtype(), "the master weight is untouched");
            // a 16-bit leaf gets a 16-bit gradient, accumulated in 16 bits over two backward passes
            Tensor x16 = dev.sevnet.backend.Backends.cpu().cast(x, DType.FLOAT16);
            Var l16 = Var.leaf(x16);
            Var y16 = F.relu(l16);
            try (Tensor seed = dev.sevnet.backend.Backends.cpu().cast(Tensor.full(x.shape(), 1f), DType.FLOAT16)) {
                y16.backward(seed);
                y16.backward(seed);
            }
            assertEquals(DType.FLOAT16, l16.grad().dtype());
            float[] gv = l16.grad().toFloatArray();
            float[] xvv = x16.toFloatArray();
            for (int i = 0; i < gv.length; i++) {
                assertEquals(xvv[i] > 0 ? 2f : 0f, gv[i]);
            }
        }
    }

    @Test
    void evaluationUnderAutocastFailsClearly() {
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g1", 3), 1); TensorScope scope = TensorScope.open();
                Tensor x = rand(new Random(1), 1, 3, 2, 16, 16)) {
            net.eval();
            try (Autocast.Guard g = Autocast.enable(DType.BFLOAT16); GradMode.Guard ng = GradMode.noGrad()) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> net.forward(Var.of(x)));
                assertTrue(e.getMessage().contains("evaluation") && e.getMessage().contains("Autocast"), e.getMessage());
            }
        }
    }

    /** One training step's results: logits, the (unscaled) gradient of every parameter, BN running stats. */
    record Step(float[] logits, Map<String, float[]> grads, Map<String, float[]> buffers) {
    }

    static Step step(String model, DType dt, long seed) {
        return step(model, dt, null, seed);
    }

    /** {@code roundInput}: the clip rounded to that type first (then widened: an fp32 run on the 16-bit input). */
    static Step step(String model, DType dt, DType roundInput, long seed) {
        int n = 4;
        int k = 10;
        Random r = new Random(seed);
        try (SevNet net = SevNet.create(SevNetConfig.parse(model, k), seed); TensorScope scope = TensorScope.open();
                Tensor x = roundInput == null ? rand(r, n, 3, 8, 32, 32) : roundTrip(rand(r, n, 3, 8, 32, 32), roundInput)) {
            net.train(true);
            long[] labels = new long[n];
            for (int i = 0; i < n; i++) {
                labels[i] = r.nextInt(k);
            }
            Var logits;
            try (Autocast.Guard g = Autocast.enable(dt)) {
                logits = net.forward(Var.of(x));
            }
            assertEquals(DType.FLOAT32, logits.value().dtype(), "fp32 logits");
            Var loss = F.softmaxCrossEntropy(logits, Tensor.ofLongs(labels, n));
            float scale = dt == DType.FLOAT16 ? FP16_LOSS_SCALE : 1f;
            try (Tensor s = Tensor.full(loss.shape(), scale)) {
                loss.backward(s);
            }
            Map<String, float[]> grads = new LinkedHashMap<>();
            for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
                Tensor g = e.getValue().grad();
                assertEquals(DType.FLOAT32, g.dtype(), e.getKey());
                assertEquals(DType.FLOAT32, e.getValue().data().dtype(), e.getKey());
                float[] v = g.toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    v[i] /= scale;
                }
                grads.put(e.getKey(), v);
            }
            Map<String, float[]> buffers = new LinkedHashMap<>();
            net.stateDict().forEach((name, t) -> {
                if (name.endsWith("running_mean") || name.endsWith("running_var")) {
                    buffers.put(name, t.toFloatArray());
                }
            });
            return new Step(logits.value().toFloatArray(), grads, buffers);
        }
    }

    static Tensor roundTrip(Tensor x, DType dt) {
        try (x; Tensor h = dev.sevnet.backend.Backends.cpu().cast(x, dt)) {
            return dev.sevnet.backend.Backends.cpu().cast(h, DType.FLOAT32);
        }
    }

    /** ||a - b|| / ||b|| (||a|| when b is zero); every value of a must be finite. */
    public static double relErr(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            assertTrue(Float.isFinite(a[i]), "non-finite value");
            double d = (double) a[i] - b[i];
            num += d * d;
            den += (double) b[i] * b[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    @ParameterizedTest
    @CsvSource({"sevnet-g2, BFLOAT16", "sevnet-g2, FLOAT16", "sevnet-se-g2, BFLOAT16", "sevnet-se-g2, FLOAT16",
        "r2plus1d-g2, BFLOAT16", "r2plus1d-g2, FLOAT16", "r3d-g2, BFLOAT16", "r3d-g2, FLOAT16"})
    void oneTrainingStepMatchesFp32(String model, DType dt) {
        long before = MemoryStats.liveHostBytes();
        Step ref = step(model, null, 11);
        Step half = step(model, dt, 11);
        // fp32's own sensitivity: the same step on the clip rounded to dt
        Step base = step(model, null, dt, 11);
        double baseSum = 0;
        for (String name : ref.grads().keySet()) {
            baseSum += relErr(base.grads().get(name), ref.grads().get(name));
        }
        double baseMean = baseSum / ref.grads().size();
        double baseLogits = relErr(base.logits(), ref.logits());
        double logitErr = relErr(half.logits(), ref.logits());
        double worst = 0;
        double sum = 0;
        String worstName = "";
        for (String name : ref.grads().keySet()) {
            double e = relErr(half.grads().get(name), ref.grads().get(name));
            sum += e;
            if (e > worst) {
                worst = e;
                worstName = name;
            }
        }
        double worstBuf = 0;
        for (String name : ref.buffers().keySet()) {
            worstBuf = Math.max(worstBuf, relErr(half.buffers().get(name), ref.buffers().get(name)));
        }
        double mean = sum / ref.grads().size();
        System.out.printf(Locale.ROOT, "%s %s vs fp32, one step: logits rel %.2e (fp32 on the rounded clip: %.2e); "
                + "parameter gradients rel L2: mean %.2e (fp32 baseline %.2e), worst %.2e (%s) over %d tensors; BN "
                + "running stats worst %.2e%n", model, dt, logitErr, baseLogits, mean, baseMean, worst, worstName,
                ref.grads().size(), worstBuf);
        assertTrue(logitErr <= MODEL_LOGIT_RATIO * baseLogits, "logits " + logitErr + " vs baseline " + baseLogits);
        assertTrue(mean <= MODEL_GRAD_RATIO * baseMean, "mean gradient error " + mean + " vs baseline " + baseMean);
        assertTrue(worstBuf <= 0.25, "running stats " + worstBuf);
        assertEquals(before, MemoryStats.liveHostBytes(), "every tensor freed");
    }

    /** One block's step: output, input gradient and parameter gradients (fp32 values). */
    /** {@code inputType}: the 16-bit type whose values the input holds; {@code dt}: the type the block runs in. */
    static Map<String, float[]> blockStep(String model, boolean downsample, DType inputType, DType dt, long seed) {
        Random r = new Random(seed);
        SevNetConfig cfg = SevNetConfig.parse(model, 10);
        try (SevBlock block = new SevBlock(16, downsample, cfg); TensorScope scope = TensorScope.open()) {
            block.initialize(seed);
            block.train(true);
            // the block's input as the model gives it under autocast: 16-bit values (fp32 runs on the same values)
            Tensor x = roundTrip(rand(r, 4, 16, 4, 8, 8), inputType);
            Var leaf = Var.leaf(x);
            Var out;
            try (Autocast.Guard g = Autocast.enable(dt == DType.FLOAT32 ? null : dt)) {
                out = F.cast(block.forward(F.cast(leaf, dt == DType.FLOAT32 ? DType.FLOAT32 : dt)), DType.FLOAT32);
            }
            out.backward(rand(new Random(seed + 1), out.shape().dims()));
            Map<String, float[]> m = new LinkedHashMap<>();
            m.put("output", out.value().toFloatArray());
            m.put("input.grad", leaf.grad().toFloatArray());
            block.namedParameters().forEach((name, p) -> {
                assertEquals(DType.FLOAT32, p.grad().dtype(), name);
                m.put(name + ".grad", p.grad().toFloatArray());
            });
            return m;
        }
    }

    @ParameterizedTest
    @CsvSource({"sevnet-g2, false", "sevnet-g2, true", "sevnet-se-g2, false", "sevnet-se-g2, true",
        "r2plus1d-g2, false", "r2plus1d-g2, true", "r3d-g2, false", "r3d-g2, true"})
    void oneBlockStepMatchesFp32PerParameter(String model, boolean downsample) {
        for (DType dt : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
            // the fp32 step on the same (16-bit representable) input values
            Map<String, float[]> ref = blockStep(model, downsample, dt, DType.FLOAT32, 21);
            Map<String, float[]> half = blockStep(model, downsample, dt, dt, 21);
            double worst = 0;
            String worstName = "";
            for (String k : ref.keySet()) {
                double e = relErr(half.get(k), ref.get(k));
                if (e > worst) {
                    worst = e;
                    worstName = k;
                }
            }
            double out = relErr(half.get("output"), ref.get("output"));
            System.out.printf(Locale.ROOT, "block of %s (downsample %s) %s vs fp32: output rel %.2e, input gradient "
                    + "%.2e, worst parameter gradient %.2e (%s)%n", model, downsample, dt, out,
                    relErr(half.get("input.grad"), ref.get("input.grad")), worst, worstName);
            assertTrue(out <= (dt == DType.BFLOAT16 ? BLOCK_OUT_TOL_BF16 : BLOCK_OUT_TOL_FP16), "output " + out);
            assertTrue(worst <= (dt == DType.BFLOAT16 ? BLOCK_GRAD_TOL_BF16 : BLOCK_GRAD_TOL_FP16),
                    worstName + " " + worst);
        }
    }

    @Test
    void autocastOffIsBitIdenticalToNoAutocast() {
        // autocast off takes the very same code path as before; the CPU's fp32 sums may still differ in the last
        // bit between runs (their blocking follows buffer alignment), hence 1e-6 as in ExactResumeTest
        Step a = step("sevnet-se-g2", null, 5);
        Step b;
        try (Autocast.Guard g = Autocast.enable(DType.FLOAT32)) {
            b = step("sevnet-se-g2", null, 5);
        }
        assertClose(a.logits(), b.logits(), "logits");
        for (String name : a.grads().keySet()) {
            assertClose(a.grads().get(name), b.grads().get(name), name);
        }
    }

    static void assertClose(float[] x, float[] y, String what) {
        assertEquals(x.length, y.length, what);
        for (int i = 0; i < x.length; i++) {
            assertEquals(x[i], y[i], 1e-6f * Math.max(1f, Math.abs(x[i])), what + "[" + i + "]");
        }
    }
}
