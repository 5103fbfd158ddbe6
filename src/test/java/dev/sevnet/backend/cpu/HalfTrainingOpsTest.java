package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backend.BatchNormResult;
import dev.sevnet.backend.Backend.ConvBatchNormResult;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CPU backend's 16-bit forms of the training ops, bit for bit against the reference semantics computed here
 * independently of {@code HalfReference}: every 16-bit operand widened with {@link Half}, the backend's fp32 op, every
 * 16-bit result rounded once with {@link Half} (the fused batch-norm forms once per output, not per part);
 * float32 results (statistics, dgamma, dbeta, dg) equal to the fp32 op's. Also: the ops without a 16-bit form still
 * reject 16-bit tensors, and mixed 16-bit types are rejected, before any native call.
 */
class HalfTrainingOpsTest {
    static final CpuBackend B = CpuBackend.get();
    static final ConvSpec[] SPECS = {ConvSpec.of(1),
        ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(4).build(),
        ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build(),
        ConvSpec.builder().kernel(3, 3, 3).padding(1, 1, 1).build()};

    /** Random values already representable in {@code dt}, as a 16-bit tensor. */
    static Tensor half(Random r, DType dt, long... dims) {
        Shape s = Shape.of(dims);
        Tensor t = Tensor.empty(s, dt);
        for (int i = 0; i < s.size(); i++) {
            float v = (float) r.nextGaussian();
            t.hostBuffer().putShort(2 * i, dt == DType.BFLOAT16 ? Half.floatToBf16(v) : Half.fromFloat(v));
        }
        return t;
    }

    static Tensor f32(Random r, long... dims) {
        Shape s = Shape.of(dims);
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, s);
    }

    /** Widening, written out here. */
    static Tensor widen(Tensor h) {
        if (h == null) {
            return null;
        }
        Tensor f = Tensor.empty(h.shape());
        for (int i = 0; i < h.size(); i++) {
            short v = h.hostBuffer().getShort(2 * i);
            f.floatBuffer().put(i, h.dtype() == DType.BFLOAT16 ? Half.bf16ToFloat(v) : Half.toFloat(v));
        }
        return f;
    }

    /** The bits {@code f} (fp32) rounds to in {@code dt}. */
    static short[] roundBits(Tensor f, DType dt) {
        short[] out = new short[Math.toIntExact(f.size())];
        for (int i = 0; i < out.length; i++) {
            float v = f.floatBuffer().get(i);
            out[i] = dt == DType.BFLOAT16 ? Half.floatToBf16(v) : Half.fromFloat(v);
        }
        return out;
    }

    static short[] bits(Tensor h) {
        short[] out = new short[Math.toIntExact(h.size())];
        h.hostBuffer().asShortBuffer().get(0, out);
        return out;
    }

    /** A 16-bit result equals the fp32 reference rounded once. */
    static void same16(Tensor got, Tensor ref32, DType dt, String what) {
        assertEquals(dt, got.dtype(), what);
        assertEquals(ref32.shape(), got.shape(), what);
        assertArrayEquals(roundBits(ref32, dt), bits(got), what);
    }

    static void same32(Tensor got, Tensor ref32, String what) {
        assertEquals(DType.FLOAT32, got.dtype(), what);
        assertArrayEquals(ref32.toFloatArray(), got.toFloatArray(), what);
    }

    static void inScope(Runnable r) {
        long before = MemoryStats.liveHostBytes();
        try (TensorScope s = TensorScope.open()) {
            r.run();
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "every tensor freed");
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void convBackwardDataAndWeight(DType dt) {
        inScope(() -> {
            Random r = new Random(1);
            for (ConvSpec spec : SPECS) {
                Shape xs = Shape.of(2, 8, 3, 6, 6);
                long cout = 8;
                Tensor x = half(r, dt, xs.dims());
                Tensor w = half(r, dt, cout, 8 / spec.groups(), spec.kT(), spec.kH(), spec.kW());
                Tensor dy = half(r, dt, spec.outputShape(xs, cout).dims());
                same16(B.conv3dBackwardData(dy, w, spec, xs), B.conv3dBackwardData(widen(dy), widen(w), spec, xs), dt,
                        "dx " + spec);
                same16(B.conv3dBackwardWeight(x, dy, spec, w.shape()),
                        B.conv3dBackwardWeight(widen(x), widen(dy), spec, w.shape()), dt, "dw " + spec);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void batchNormTrainAndBackward(DType dt) {
        inScope(() -> {
            Random r = new Random(2);
            Tensor x = half(r, dt, 3, 4, 2, 3, 3);
            Tensor gamma = f32(r, 4);
            Tensor beta = f32(r, 4);
            Tensor rm = f32(r, 4);
            Tensor rv = Tensor.full(Shape.of(4), 1.5f);
            Tensor rm32 = rm.copy();
            Tensor rv32 = rv.copy();
            BatchNormResult h = B.batchNormTrain(x, gamma, beta, rm, rv, 1e-5, 0.1);
            BatchNormResult f = B.batchNormTrain(widen(x), gamma, beta, rm32, rv32, 1e-5, 0.1);
            same16(h.y(), f.y(), dt, "y");
            same32(h.saveMean(), f.saveMean(), "mean");
            same32(h.saveInvstd(), f.saveInvstd(), "invstd");
            same32(rm, rm32, "running mean");
            same32(rv, rv32, "running var");
            Tensor dy = half(r, dt, x.shape().dims());
            Tensor[] d = B.batchNormBackward(x, dy, gamma, h.saveMean(), h.saveInvstd());
            Tensor[] e = B.batchNormBackward(widen(x), widen(dy), gamma, f.saveMean(), f.saveInvstd());
            same16(d[0], e[0], dt, "dx");
            same32(d[1], e[1], "dgamma");
            same32(d[2], e[2], "dbeta");
        });
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void fusedBatchNormFormsRoundOncePerOutput(DType dt) {
        inScope(() -> {
            Random r = new Random(3);
            Tensor x = half(r, dt, 2, 4, 2, 3, 3);
            Tensor res = half(r, dt, 2, 4, 2, 3, 3);
            Tensor gamma = f32(r, 4);
            Tensor beta = f32(r, 4);
            Backend fp32 = new Backend() {
                // the interface's default composition in fp32, as the 16-bit form's reference
                @Override public dev.sevnet.tensor.Device device() { return B.device(); }
                @Override public String name() { return "fp32-composition"; }
                @Override public Tensor conv3d(Tensor a, Tensor w, Tensor b, ConvSpec s, boolean relu) { return B.conv3d(a, w, b, s, relu); }
                @Override public Tensor conv3dBackwardData(Tensor a, Tensor w, ConvSpec s, Shape xs) { return B.conv3dBackwardData(a, w, s, xs); }
                @Override public Tensor conv3dBackwardWeight(Tensor a, Tensor b, ConvSpec s, Shape ws) { return B.conv3dBackwardWeight(a, b, s, ws); }
                @Override public BatchNormResult batchNormTrain(Tensor a, Tensor g, Tensor b, Tensor m, Tensor v, double eps, double mom) { return B.batchNormTrain(a, g, b, m, v, eps, mom); }
                @Override public Tensor batchNormEval(Tensor a, Tensor g, Tensor b, Tensor m, Tensor v, double eps, boolean relu) { return B.batchNormEval(a, g, b, m, v, eps, relu); }
                @Override public Tensor[] batchNormBackward(Tensor a, Tensor d, Tensor g, Tensor m, Tensor i) { return B.batchNormBackward(a, d, g, m, i); }
                @Override public Tensor relu(Tensor a) { return B.relu(a); }
                @Override public Tensor reluBackward(Tensor y, Tensor d) { return B.reluBackward(y, d); }
                @Override public Tensor add(Tensor a, Tensor b) { return B.add(a, b); }
                @Override public Tensor addRelu(Tensor a, Tensor b) { return B.addRelu(a, b); }
                @Override public Tensor mul(Tensor a, Tensor b) { return B.mul(a, b); }
                @Override public Tensor scale(Tensor a, float s) { return B.scale(a, s); }
                @Override public void axpby(float a, Tensor x, float b, Tensor y) { B.axpby(a, x, b, y); }
                @Override public void fill(Tensor y, float v) { B.fill(y, v); }
                @Override public Tensor sigmoid(Tensor a) { return B.sigmoid(a); }
                @Override public Tensor sigmoidBackward(Tensor y, Tensor d) { return B.sigmoidBackward(y, d); }
                @Override public Tensor[] dropout(Tensor a, float p, long s) { return B.dropout(a, p, s); }
                @Override public Tensor concatChannels(Tensor a, Tensor b) { return B.concatChannels(a, b); }
                @Override public Tensor[] splitChannels(Tensor y, long ca) { return B.splitChannels(y, ca); }
                @Override public Tensor channelScale(Tensor a, Tensor g) { return B.channelScale(a, g); }
                @Override public Tensor[] channelScaleBackward(Tensor a, Tensor g, Tensor d) { return B.channelScaleBackward(a, g, d); }
                @Override public Tensor avgPool3d(Tensor a, ConvSpec w) { return B.avgPool3d(a, w); }
                @Override public Tensor avgPool3dBackward(Tensor d, ConvSpec w, Shape xs) { return B.avgPool3dBackward(d, w, xs); }
                @Override public Tensor globalAvgPool(Tensor a) { return B.globalAvgPool(a); }
                @Override public Tensor globalAvgPoolBackward(Tensor d, Shape xs) { return B.globalAvgPoolBackward(d, xs); }
                @Override public Tensor linear(Tensor a, Tensor w, Tensor b) { return B.linear(a, w, b); }
                @Override public Tensor[] linearBackward(Tensor a, Tensor w, Tensor d, boolean hb) { return B.linearBackward(a, w, d, hb); }
                @Override public void gemm(boolean ta, boolean tb, float al, Tensor a, Tensor b, float be, Tensor c) { B.gemm(ta, tb, al, a, b, be, c); }
                @Override public Tensor[] softmaxCrossEntropy(Tensor l, Tensor y) { return B.softmaxCrossEntropy(l, y); }
                @Override public Tensor softmaxCrossEntropyBackward(Tensor p, Tensor y, float s) { return B.softmaxCrossEntropyBackward(p, y, s); }
                @Override public Tensor bceWithLogits(Tensor l, Tensor t) { return B.bceWithLogits(l, t); }
                @Override public Tensor bceWithLogitsBackward(Tensor l, Tensor t, float s) { return B.bceWithLogitsBackward(l, t, s); }
                @Override public Tensor softmax(Tensor l) { return B.softmax(l); }
                @Override public void sgdMomentumStep(Tensor w, Tensor g, Tensor v, float lr, float m, float wd) { B.sgdMomentumStep(w, g, v, lr, m, wd); }
                @Override public double sum(Tensor a) { return B.sum(a); }
                @Override public Tensor toDevice(Tensor t) { return B.toDevice(t); }
                @Override public Tensor toHost(Tensor t) { return B.toHost(t); }
                @Override public Tensor cast(Tensor a, DType d) { return B.cast(a, d); }
            };
            for (boolean relu : new boolean[] {true, false}) {
                for (Tensor residual : new Tensor[] {null, res}) {
                    String what = "relu " + relu + ", residual " + (residual != null);
                    BatchNormResult h = B.batchNormTrainAct(x, residual, gamma, beta, null, null, 1e-5, 0.1, relu);
                    BatchNormResult f = fp32.batchNormTrainAct(widen(x), widen(residual), gamma, beta, null, null, 1e-5,
                            0.1, relu);
                    same16(h.y(), f.y(), dt, "y " + what);
                    same32(h.saveInvstd(), f.saveInvstd(), "invstd " + what);
                    Tensor dy = half(r, dt, x.shape().dims());
                    for (boolean rg : new boolean[] {true, false}) {
                        Tensor[] d = B.batchNormActBackward(x, h.y(), dy, gamma, h.saveMean(), h.saveInvstd(), relu, rg);
                        Tensor[] e = fp32.batchNormActBackward(widen(x), widen(h.y()), widen(dy), gamma, f.saveMean(),
                                f.saveInvstd(), relu, rg);
                        same16(d[0], e[0], dt, "dx " + what);
                        same32(d[1], e[1], "dgamma " + what);
                        same32(d[2], e[2], "dbeta " + what);
                        if (rg) {
                            same16(d[3], e[3], dt, "dresidual " + what);
                        } else {
                            assertNull(d[3]);
                        }
                    }
                }
            }
            // conv -> BN -> ReLU (the interface default on the CPU): z stored in 16 bits, y rounded once from z
            ConvSpec spec = SPECS[1];
            Tensor w = half(r, dt, 4, 1, 1, 3, 3);
            ConvBatchNormResult c = B.convBatchNormTrain(x, w, spec, gamma, beta, null, null, 1e-5, 0.1, true);
            Tensor z32 = B.conv3d(widen(x), widen(w), spec);
            same16(c.z(), z32, dt, "z");
            Tensor zr = widen(c.z());
            same16(c.y(), fp32.batchNormTrainAct(zr, null, gamma, beta, null, null, 1e-5, 0.1, true).y(), dt, "conv-bn y");
            // conv + residual (inference op, the default of the training path too)
            Tensor res2 = half(r, dt, c.z().shape().dims());
            assertEquals(dt, B.conv3dResidual(x, w, null, spec, res2, true).dtype());
        });
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void elementwisePoolShapeAndScaleBackwards(DType dt) {
        inScope(() -> {
            Random r = new Random(4);
            Tensor a = half(r, dt, 2, 6, 2, 5, 5);
            Tensor b = half(r, dt, 2, 6, 2, 5, 5);
            same16(B.reluBackward(a, b), B.reluBackward(widen(a), widen(b)), dt, "relu backward");
            same16(B.add(a, b), B.add(widen(a), widen(b)), dt, "add");
            Tensor y = b.copy();
            Tensor y32 = widen(b);
            B.axpby(0.75f, a, -1.25f, y);
            B.axpby(0.75f, widen(a), -1.25f, y32);
            same16(y, y32, dt, "axpby");
            ConvSpec window = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build();
            Tensor dyp = half(r, dt, 2, 6, 2, 3, 3);
            same16(B.avgPool3dBackward(dyp, window, a.shape()), B.avgPool3dBackward(widen(dyp), window, a.shape()), dt,
                    "avg-pool backward");
            Tensor dyg = f32(r, 2, 6);
            same16(B.globalAvgPoolBackward(dyg, a.shape(), dt), B.globalAvgPoolBackward(dyg, a.shape()), dt,
                    "global avg-pool backward");
            same32(B.globalAvgPoolBackward(dyg, a.shape(), DType.FLOAT32), B.globalAvgPoolBackward(dyg, a.shape()),
                    "global avg-pool backward fp32");
            Tensor[] parts = B.splitChannels(a, 2);
            Tensor[] parts32 = B.splitChannels(widen(a), 2);
            same16(parts[0], parts32[0], dt, "split a");
            same16(parts[1], parts32[1], dt, "split b");
            assertArrayEquals(bits(a), bits(B.concatChannels(parts[0], parts[1])), "split then concat");
            Tensor g = f32(r, 2, 6);
            Tensor[] cs = B.channelScaleBackward(a, g, b);
            Tensor[] cs32 = B.channelScaleBackward(widen(a), g, widen(b));
            same16(cs[0], cs32[0], dt, "channel scale dx");
            same32(cs[1], cs32[1], "channel scale dg");
        });
    }

    @Test
    void opsWithoutA16BitFormAndMixedTypesAreRejected() {
        inScope(() -> {
            Random r = new Random(5);
            Tensor h = half(r, DType.BFLOAT16, 2, 4, 1, 3, 3);
            Tensor f = half(r, DType.FLOAT16, 2, 4, 1, 3, 3);
            Tensor w = half(r, DType.BFLOAT16, 4, 4, 1, 1, 1);
            Tensor g = f32(r, 4);
            Tensor rm = f32(r, 4);
            List<Supplier<Object>> bad = List.of(
                () -> B.mul(h, h), () -> B.scale(h, 2f), () -> B.sigmoid(h), () -> B.sigmoidBackward(h, h),
                () -> B.dropout(h, 0.5f, 1), () -> B.sum(h), () -> { B.fill(h, 0f); return null; },
                () -> B.batchNormEval(h, g, g, rm, Tensor.full(Shape.of(4), 1f), 1e-5, false),
                () -> B.linear(h.reshape(2, 36), w.reshape(4, 4), null),
                () -> B.add(h, f), () -> B.reluBackward(h, f), () -> B.conv3dBackwardData(f, w, ConvSpec.of(1), h.shape()),
                () -> B.conv3dBackwardWeight(h, f, ConvSpec.of(1), w.shape()),
                () -> B.batchNormBackward(h, f, g, g, g), () -> B.channelScaleBackward(h, f32(r, 2, 4), f),
                () -> B.globalAvgPoolBackward(f32(r, 2, 4), h.shape(), DType.INT64),
                () -> { B.axpby(1f, f, 1f, h); return null; },
                () -> { B.sgdMomentumStep(h, h, h, 0.1f, 0.9f, 0f); return null; });
            for (int i = 0; i < bad.size(); i++) {
                int k = i;
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bad.get(k).get(),
                        "case " + k);
                assertTrue(e.getMessage() != null && !e.getMessage().isEmpty());
            }
        });
    }
}
