package dev.sevnet.backend.cpu;

import dev.sevnet.backend.Backends;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The int8 conv ({@code native/src/int8.cpp}): the VNNI and the scalar kernels equal the naive int8
 * reference bit for bit (same quantisation, exact int32 sums, same epilogue) on ragged shapes of every
 * layer type SEVNet has; and the int8 conv stays within the quantisation error bound of the fp32 conv.
 */
class Int8KernelsTest {

    /** name, input [N, Cin, T, H, W], Cout, spec */
    record Case(String name, int[] x, int cout, ConvSpec spec) {
    }

    static final Case[] CASES = {
        new Case("pointwise 1x1x1", new int[] {2, 21, 3, 7, 9}, 13, ConvSpec.of(1)),
        new Case("pointwise, many channels", new int[] {1, 72, 2, 5, 6}, 40, ConvSpec.of(1)),
        new Case("grouped 1x3x3 stride 1", new int[] {2, 24, 3, 9, 11}, 24,
                ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(3).build()),
        new Case("grouped 1x3x3 stride 2", new int[] {1, 16, 2, 11, 10}, 16,
                ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(2).build()),
        new Case("depthwise-ish 1x3x3 stride 2, 5 groups", new int[] {1, 10, 3, 7, 7}, 10,
                ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(5).build()),
        new Case("temporal 3x1x1", new int[] {2, 12, 5, 6, 7}, 20,
                ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build()),
        new Case("stem 1x7x7 stride 2", new int[] {1, 3, 2, 17, 15}, 9,
                ConvSpec.builder().kernel(1, 7, 7).stride(1, 2, 2).padding(0, 3, 3).build()),
        new Case("dense 3x3x3", new int[] {1, 5, 4, 6, 5}, 7,
                ConvSpec.builder().kernel(3, 3, 3).padding(1, 1, 1).build()),
    };

    static Tensor random(Shape s, long seed, boolean nonNegative) {
        Random r = new Random(seed);
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            double g = r.nextGaussian();
            a[i] = (float) (nonNegative ? Math.max(0, g) * 2 : g);
        }
        return Tensor.of(a, s);
    }

    static float maxAbs(float[] a) {
        float m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /** The quantised weights of {@code w} ([Cout, K] rows) and their scales. */
    record QWeights(Tensor wq, Tensor scale, int stride) {
    }

    static QWeights quantizeWeights(Tensor w) {
        long cout = w.dim(0);
        long k = w.size() / cout;
        int stride = Int8Kernels.sev_int8_weight_stride(k);
        Tensor wq = Tensor.empty(Shape.of((cout * stride + 7) / 8), DType.INT64);
        Tensor scale = Tensor.empty(Shape.of(cout));
        assertEquals(0, Int8Kernels.sev_int8_quantize_weights(w.address(), wq.address(), scale.address(), cout, k));
        return new QWeights(wq, scale, stride);
    }

    @Test
    void weightQuantisationIsSymmetricPerChannel() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor w = random(Shape.of(5, 7), 1, false);
            QWeights q = quantizeWeights(w);
            assertEquals(8, q.stride());
            float[] wf = w.toFloatArray();
            float[] s = q.scale().toFloatArray();
            ByteBuffer b = q.wq().hostBuffer();
            for (int c = 0; c < 5; c++) {
                float m = 0;
                for (int i = 0; i < 7; i++) {
                    m = Math.max(m, Math.abs(wf[c * 7 + i]));
                }
                assertEquals(m / 127f, s[c], 1e-7f * m);
                boolean hit127 = false;
                for (int i = 0; i < 7; i++) {
                    int v = b.get(c * 8 + i);
                    assertTrue(Math.abs(v - wf[c * 7 + i] / s[c]) <= 0.5f + 1e-3f);
                    hit127 |= Math.abs(v) == 127;
                }
                assertTrue(hit127, "the largest weight maps to +-127");
                assertEquals(0, b.get(c * 8 + 7), "padding is zero");
            }
        }
    }

    @Test
    void fastKernelsEqualTheNaiveReferenceExactly() {
        long before = MemoryStats.liveHostBytes();
        int kernel = Int8Kernels.sev_int8_kernel();
        System.out.println("int8 conv kernel on this CPU: " + (kernel == 1 ? "AVX-512 VNNI" : "scalar"));
        try {
            for (int vnni : new int[] {1, 0}) {
                Int8Kernels.sev_int8_set_kernel(vnni);
                for (Case c : CASES) {
                    for (int zp : new int[] {0, 128}) {
                        for (int relu : new int[] {0, 1}) {
                            check(c, zp, relu, vnni);
                        }
                    }
                }
            }
        } finally {
            Int8Kernels.sev_int8_set_kernel(kernel);
        }
        assertEquals(before, MemoryStats.liveHostBytes());
    }

    private static void check(Case c, int zp, int relu, int vnni) {
        try (TensorScope scope = TensorScope.open()) {
            Shape xs = Shape.of(c.x());
            int cin = c.x()[1];
            Shape ws = Shape.of(c.cout(), cin / c.spec().groups(), c.spec().kT(), c.spec().kH(), c.spec().kW());
            Tensor x = random(xs, 11, zp == 0);
            Tensor w = random(ws, 12, false);
            Tensor bias = random(Shape.of(c.cout()), 13, false);
            QWeights q = quantizeWeights(w);
            // a scale that clips part of the input too, so saturation is covered
            float sx = maxAbs(x.toFloatArray()) / (zp == 0 ? 200f : 100f);
            int[] p = c.spec().nativeParams(xs, c.cout());
            Shape ys = c.spec().outputShape(xs, c.cout());
            Tensor fast = Tensor.empty(ys);
            Tensor ref = Tensor.empty(ys);
            assertEquals(0, Int8Kernels.sev_conv3d_int8_forward(x.address(), sx, zp, q.wq().address(),
                    q.scale().address(), bias.address(), fast.address(), p, relu));
            assertEquals(0, Int8Kernels.sev_conv3d_int8_forward_reference(x.address(), sx, zp, q.wq().address(),
                    q.scale().address(), bias.address(), ref.address(), p, relu));
            float[] a = fast.toFloatArray();
            float[] b = ref.toFloatArray();
            for (int i = 0; i < a.length; i++) {
                if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) {
                    throw new AssertionError(c.name() + " zp " + zp + " relu " + relu + " vnni " + vnni + ": y[" + i
                            + "] = " + a[i] + ", reference " + b[i]);
                }
            }
        }
    }

    @Test
    void int8ConvIsWithinTheQuantisationErrorOfTheFp32Conv() {
        for (Case c : CASES) {
            for (int zp : new int[] {0, 128}) {
                try (TensorScope scope = TensorScope.open()) {
                    Shape xs = Shape.of(c.x());
                    int cin = c.x()[1];
                    Shape ws = Shape.of(c.cout(), cin / c.spec().groups(), c.spec().kT(), c.spec().kH(), c.spec().kW());
                    Tensor x = random(xs, 21, zp == 0);
                    Tensor w = random(ws, 22, false);
                    Tensor bias = random(Shape.of(c.cout()), 23, false);
                    QWeights q = quantizeWeights(w);
                    float xmax = maxAbs(x.toFloatArray());
                    float sx = xmax / (zp == 0 ? 255f : 127f);   // calibrated: no clipping
                    Tensor y8 = Tensor.empty(c.spec().outputShape(xs, c.cout()));
                    assertEquals(0, Int8Kernels.sev_conv3d_int8_forward(x.address(), sx, zp, q.wq().address(),
                            q.scale().address(), bias.address(), y8.address(), c.spec().nativeParams(xs, c.cout()), 0));
                    float[] y = Backends.cpu().conv3d(x, w, bias, c.spec(), false).toFloatArray();
                    float[] yq = y8.toFloatArray();
                    // |x w - x' w'| <= |x| |w - w'| + |w'| |x - x'|, each error at most half a step, over K taps
                    long k = w.size() / c.cout();
                    float wmax = maxAbs(w.toFloatArray());
                    float[] s = q.scale().toFloatArray();
                    double worst = 0;
                    double se = 0;
                    double sy = 0;
                    for (int i = 0; i < y.length; i++) {
                        int co = (int) ((i / (y.length / xs.get(0) / c.cout())) % c.cout());
                        double bound = k * (xmax * s[co] / 2 + (wmax + s[co] / 2) * sx / 2) + 1e-5;
                        double e = Math.abs(yq[i] - y[i]);
                        worst = Math.max(worst, e / bound);
                        se += e * e;
                        sy += (double) y[i] * y[i];
                    }
                    double rel = Math.sqrt(se / sy);
                    assertTrue(worst <= 1, c.name() + ": error " + worst + " x the bound");
                    assertTrue(rel < 0.02, c.name() + " zp " + zp + ": relative RMS error " + rel);
                }
            }
        }
    }
}
