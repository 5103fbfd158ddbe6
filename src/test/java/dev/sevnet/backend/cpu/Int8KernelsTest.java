package dev.sevnet.backend.cpu;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The int8 kernels ({@code native/src/int8.cpp}): the VNNI and the scalar conv equal the naive int8
 * reference bit for bit (u8 and float outputs, residual, concat offsets) on ragged shapes of every
 * layer type SEVNet has and of each of the kernel's three position walks; the conv stays within the
 * quantisation error bound of the fp32 conv; quantise, average pools and argument checks.
 */
class Int8KernelsTest {

    /** name, input [N, Cin, T, H, W], Cout, spec */
    record Case(String name, int[] x, int cout, ConvSpec spec) {
    }

    static ConvSpec spatial(int stride, int groups) {
        return ConvSpec.builder().kernel(1, 3, 3).stride(1, stride, stride).padding(0, 1, 1).groups(groups).build();
    }

    static final ConvSpec TEMPORAL = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();

    static final Case[] CASES = {
        // range walk (1x1x1, kTx1x1): channel and position counts off the 4 / 16 / 48 blocks
        new Case("pointwise 1x1x1 ragged", new int[] {2, 21, 3, 7, 9}, 13, ConvSpec.of(1)),
        new Case("pointwise, many channels", new int[] {1, 72, 2, 5, 6}, 40, ConvSpec.of(1)),
        new Case("temporal 3x1x1", new int[] {2, 12, 5, 6, 7}, 20, TEMPORAL),
        new Case("temporal 3x1x1, tiles across many 3x5 frames", new int[] {1, 10, 7, 3, 5}, 7, TEMPORAL),
        new Case("temporal 5x1x1", new int[] {1, 8, 6, 4, 4}, 8,
                ConvSpec.builder().kernel(5, 1, 1).padding(2, 0, 0).build()),
        // plane walk (stride-1 "same" convs)
        new Case("grouped 1x3x3 width 8", new int[] {2, 24, 3, 9, 11}, 24, spatial(1, 3)),
        new Case("grouped 1x3x3 width 2", new int[] {1, 16, 2, 6, 7}, 16, spatial(1, 8)),
        new Case("grouped 1x3x3 width 6 (groups straddle blocks)", new int[] {1, 24, 2, 5, 6}, 24, spatial(1, 4)),
        new Case("grouped 1x3x3 width 16, 2 outputs per input", new int[] {1, 32, 2, 4, 9}, 64, spatial(1, 2)),
        new Case("dense 3x3x3", new int[] {1, 5, 4, 6, 5}, 7,
                ConvSpec.builder().kernel(3, 3, 3).padding(1, 1, 1).build()),
        // row walk (stride 2, the stem, no padding)
        new Case("grouped 1x3x3 stride 2", new int[] {1, 16, 2, 11, 10}, 16, spatial(2, 2)),
        new Case("grouped 1x3x3 stride 2, width 2", new int[] {1, 10, 3, 7, 7}, 10, spatial(2, 5)),
        new Case("grouped 1x3x3 stride 2, 40 columns", new int[] {1, 8, 1, 5, 40}, 8, spatial(2, 1)),
        new Case("stem 1x7x7 stride 2", new int[] {1, 3, 2, 17, 15}, 9,
                ConvSpec.builder().kernel(1, 7, 7).stride(1, 2, 2).padding(0, 3, 3).build()),
        new Case("3x3 valid, 40 columns", new int[] {1, 8, 2, 6, 40}, 8, ConvSpec.builder().kernel(1, 3, 3).build()),
        new Case("time stride 2", new int[] {1, 8, 5, 4, 4}, 8,
                ConvSpec.builder().kernel(3, 1, 1).stride(2, 1, 1).padding(1, 0, 0).build()),
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

    static Shape weightShape(Case c) {
        return Shape.of(c.cout(), c.x()[1] / c.spec().groups(), c.spec().kT(), c.spec().kH(), c.spec().kW());
    }

    /**
     * u8 input: the float tensor quantised with scales that also saturate part of it, one per channel
     * (different ones) or the same for all.
     */
    static QTensor input(Case c, int zp, long seed, boolean perChannel) {
        try (Tensor x = random(Shape.of(c.x()), seed, zp == 0)) {
            float sx = maxAbs(x.toFloatArray()) / (zp == 0 ? 200f : 100f);
            float[] s = new float[c.x()[1]];
            for (int i = 0; i < s.length; i++) {
                s[i] = perChannel ? sx * (0.5f + 0.25f * (i % 5)) : sx;
            }
            return Int8Ops.quantize(x, s, zp);
        }
    }

    static float[] channelScales(long channels, float base) {
        float[] s = new float[Math.toIntExact(channels)];
        for (int i = 0; i < s.length; i++) {
            s[i] = base * (0.6f + 0.1f * (i % 7));
        }
        return s;
    }

    @Test
    void weightQuantisationIsSymmetricPerChannel() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor w = random(Shape.of(5, 7), 1, false);
            int stride = Int8Kernels.sev_int8_weight_stride(7);
            assertEquals(8, stride);
            Tensor wq = Tensor.empty(Shape.of(5), DType.INT64);
            Tensor s = Tensor.empty(Shape.of(5));
            assertEquals(0, Int8Kernels.sev_int8_quantize_weights(w.address(), wq.address(), s.address(), 5, 7));
            float[] wf = w.toFloatArray();
            float[] sf = s.toFloatArray();
            ByteBuffer b = wq.hostBuffer();
            for (int c = 0; c < 5; c++) {
                float m = 0;
                for (int i = 0; i < 7; i++) {
                    m = Math.max(m, Math.abs(wf[c * 7 + i]));
                }
                assertEquals(m / 127f, sf[c], 1e-7f * m);
                boolean hit127 = false;
                for (int i = 0; i < 7; i++) {
                    int v = b.get(c * 8 + i);
                    assertTrue(Math.abs(v - wf[c * 7 + i] / sf[c]) <= 0.5f + 1e-3f);
                    hit127 |= Math.abs(v) == 127;
                }
                assertTrue(hit127, "the largest weight maps to +-127");
                assertEquals(0, b.get(c * 8 + 7), "padding is zero");
            }
            // the packed weights carry the same scales
            Tensor w5 = w.reshape(5, 7, 1, 1, 1);
            try (Int8Conv packed = Int8Conv.pack(w5, ConvSpec.of(1))) {
                assertArrayEquals(sf, packed.scales().toFloatArray());
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
                    check(c, 0, vnni, true);
                    check(c, 128, vnni, true);
                    check(c, 0, vnni, false);
                }
            }
        } finally {
            Int8Kernels.sev_int8_set_kernel(kernel);
        }
        assertEquals(before, MemoryStats.liveHostBytes());
    }

    /**
     * Every output form of one case, fast vs reference: input channel scales folded into the weights
     * ({@code perChannel}) or one input scale.
     */
    private static void check(Case c, int zp, int vnni, boolean perChannel) {
        try (TensorScope scope = TensorScope.open()) {
            String what = c.name() + " zp " + zp + " vnni " + vnni + (perChannel ? " per-channel" : "");
            QTensor x = input(c, zp, 11, perChannel);
            float[] in = perChannel ? x.scales() : null;
            Tensor w = random(weightShape(c), 12, false);
            Tensor bias = random(Shape.of(c.cout()), 13, false);
            Int8Conv conv = Int8Conv.pack(w, c.spec(), in);
            Shape ys = conv.outputShape(x.shape());
            QTensor res;
            try (Tensor r = random(ys, 14, true)) {
                res = Int8Ops.quantize(r, channelScales(c.cout(), 0.03f), 0);
            }
            float[] yScales = channelScales(c.cout(), perChannel ? 0.05f : 0.08f);
            for (QTensor residual : new QTensor[] {null, res}) {
                // u8 output: the whole tensor, pad channels included
                QTensor fast = QTensor.empty(ys, yScales, 0);
                QTensor ref = QTensor.empty(ys, yScales, 0);
                fast.fill((byte) 0x5a);
                ref.fill((byte) 0xa5);
                conv.forward(x, bias, residual, fast, 0);
                Int8Conv.reference(w, c.spec(), in, x, bias, residual, ref, 0, false);
                assertArrayEquals(ref.toByteArray(), fast.toByteArray(), what + " u8, residual " + (residual != null));
                // float output, with and without ReLU
                for (boolean relu : new boolean[] {false, true}) {
                    float[] a = conv.forwardFloat(x, bias, residual, relu).toFloatArray();
                    float[] b = Int8Conv.reference(w, c.spec(), in, x, bias, residual, null, 0, relu).toFloatArray();
                    for (int i = 0; i < a.length; i++) {
                        if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) {
                            throw new AssertionError(what + " float relu " + relu + ": y[" + i + "] = " + a[i]
                                    + ", reference " + b[i]);
                        }
                    }
                }
            }
            // into a concat: channels [4, 4 + Cout) of a wider tensor, the other channels untouched
            if (c.cout() % 4 == 0) {
                Shape wide = ys.with(1, c.cout() + 8);
                QTensor fast = QTensor.empty(wide, channelScales(wide.get(1), 0.05f), 0);
                QTensor ref = QTensor.empty(wide, channelScales(wide.get(1), 0.05f), 0);
                fast.fill((byte) 7);
                ref.fill((byte) 7);
                conv.forward(x, bias, null, fast, 4);
                Int8Conv.reference(w, c.spec(), in, x, bias, null, ref, 4, false);
                assertArrayEquals(ref.toByteArray(), fast.toByteArray(), what + " into channels 4..");
                assertEquals(7, fast.get(0, 0, 0, 0, 0), "channel 0 untouched");
                assertEquals(7, fast.get(0, c.cout() + 7, 0, 0, 0), "the last channel untouched");
            }
        }
    }

    @Test
    void int8ConvIsWithinTheQuantisationErrorOfTheFp32Conv() {
        for (Case c : CASES) {
            for (int zp : new int[] {0, 128}) {
                try (TensorScope scope = TensorScope.open()) {
                    Shape xs = Shape.of(c.x());
                    Tensor x = random(xs, 21, zp == 0);
                    Tensor w = random(weightShape(c), 22, false);
                    Tensor bias = random(Shape.of(c.cout()), 23, false);
                    float xmax = maxAbs(x.toFloatArray());
                    float sx = xmax / (zp == 0 ? 255f : 127f);   // calibrated: no clipping
                    Int8Conv conv = Int8Conv.pack(w, c.spec());
                    float[] yq = conv.forwardFloat(Int8Ops.quantize(x, sx, zp), bias, null, false).toFloatArray();
                    // per-channel input scales folded into the weights: at least as close (the same bound)
                    float[] perChannel = channelMax(x, zp == 0 ? 255f : 127f);
                    float[] yc = Int8Conv.pack(w, c.spec(), perChannel).forwardFloat(
                            Int8Ops.quantize(x, perChannel, zp), bias, null, false).toFloatArray();
                    float[] y = Backends.cpu().conv3d(x, w, bias, c.spec(), false).toFloatArray();
                    // |x w - x' w'| <= |x| |w - w'| + |w'| |x - x'|, each error at most half a step, over K taps
                    long k = w.size() / c.cout();
                    float wmax = maxAbs(w.toFloatArray());
                    float[] s = conv.scales().toFloatArray();
                    double worst = 0;
                    double se = 0;
                    double sec = 0;
                    double sy = 0;
                    for (int i = 0; i < y.length; i++) {
                        int co = (int) ((i / (y.length / xs.get(0) / c.cout())) % c.cout());
                        double bound = k * (xmax * s[co] / 2 + (wmax + s[co] / 2) * sx / 2) + 1e-5;
                        double e = Math.abs(yq[i] - y[i]);
                        worst = Math.max(worst, e / bound);
                        se += e * e;
                        sec += (double) (yc[i] - y[i]) * (yc[i] - y[i]);
                        sy += (double) y[i] * y[i];
                    }
                    double rel = Math.sqrt(se / sy);
                    double relc = Math.sqrt(sec / sy);
                    assertTrue(worst <= 1, c.name() + ": error " + worst + " x the bound");
                    assertTrue(rel < 0.02, c.name() + " zp " + zp + ": relative RMS error " + rel);
                    assertTrue(relc < 0.02, c.name() + " zp " + zp + ": per-channel relative RMS error " + relc);
                }
            }
        }
    }

    /** max |x| of each channel / levels */
    static float[] channelMax(Tensor x, float levels) {
        float[] a = x.toFloatArray();
        int c = Math.toIntExact(x.dim(1));
        long s = x.shape().sizeFrom(2);
        float[] m = new float[c];
        for (int i = 0; i < a.length; i++) {
            int ch = (int) ((i / s) % c);
            m[ch] = Math.max(m[ch], Math.abs(a[i]));
        }
        for (int i = 0; i < c; i++) {
            m[i] = m[i] > 0 ? m[i] / levels : 1f;
        }
        return m;
    }

    @Test
    void quantiseRoundsHalfToEvenAndDequantiseInverts() {
        try (TensorScope scope = TensorScope.open()) {
            // 5 channels (a ragged last block), 37 positions (a ragged last vector)
            Shape s = Shape.of(2, 5, 1, 1, 37);
            float[] a = new float[Math.toIntExact(s.size())];
            Random r = new Random(3);
            for (int i = 0; i < a.length; i++) {
                a[i] = (i % 7 == 0) ? (i % 3 - 1) * 0.5f + (i % 5) : (float) (r.nextGaussian() * 40);
            }
            a[1] = Float.NaN;
            Tensor x = Tensor.of(a, s);
            int kernel = Int8Kernels.sev_int8_kernel();
            try {
                for (int vnni : new int[] {1, 0}) {
                    Int8Kernels.sev_int8_set_kernel(vnni);
                    float[] scales = {0.5f, 0.25f, 1f, 0.5f, 0.125f};
                    QTensor q = Int8Ops.quantize(x, scales, 128);
                    float[] back = Int8Ops.dequantize(q).toFloatArray();
                    for (int n = 0; n < 2; n++) {
                        for (int c = 0; c < 5; c++) {
                            for (int w = 0; w < 37; w++) {
                                int i = (n * 5 + c) * 37 + w;
                                float v = a[i];
                                float inv = 1f / scales[c];
                                int expect = Float.isNaN(v) ? 0
                                        : (int) Math.max(0, Math.min(255, Math.rint(v * inv) + 128));
                                assertEquals(expect, q.get(n, c, 0, 0, w), "x = " + v + " vnni " + vnni);
                                assertEquals((expect - 128) * scales[c], back[i]);
                            }
                            // channels 5..7 of the last block are 0
                        }
                        for (int w = 0; w < 37; w++) {
                            assertEquals(0, q.get(n, 5, 0, 0, w));
                            assertEquals(0, q.get(n, 7, 0, 0, w));
                        }
                    }
                }
            } finally {
                Int8Kernels.sev_int8_set_kernel(kernel);
            }
        }
    }

    @Test
    void avgPoolAndGlobalPoolOnU8() {
        try (TensorScope scope = TensorScope.open()) {
            Shape s = Shape.of(2, 6, 3, 7, 9);
            Tensor x = random(s, 5, true);
            QTensor q = Int8Ops.quantize(x, channelScales(6, 0.02f), 0);
            ConvSpec window = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build();
            QTensor p = Int8Ops.avgPool(q, window);
            assertEquals(Shape.of(2, 6, 3, 4, 5), p.shape());
            assertArrayEquals(q.scales(), p.scales());
            for (int n = 0; n < 2; n++) {
                for (int c = 0; c < 6; c++) {
                    for (int t = 0; t < 3; t++) {
                        for (int ho = 0; ho < 4; ho++) {
                            for (int wo = 0; wo < 5; wo++) {
                                int sum = 0;
                                for (int h = 2 * ho - 1; h <= 2 * ho + 1; h++) {
                                    for (int w = 2 * wo - 1; w <= 2 * wo + 1; w++) {
                                        if (h >= 0 && h < 7 && w >= 0 && w < 9) {
                                            sum += q.get(n, c, t, h, w);
                                        }
                                    }
                                }
                                assertEquals((2 * sum + 9) / 18, p.get(n, c, t, ho, wo), "pool at " + ho + "," + wo);
                            }
                        }
                    }
                }
            }
            float[] g = Int8Ops.globalAvgPool(q).toFloatArray();
            for (int n = 0; n < 2; n++) {
                for (int c = 0; c < 6; c++) {
                    long sum = 0;
                    for (int t = 0; t < 3; t++) {
                        for (int h = 0; h < 7; h++) {
                            for (int w = 0; w < 9; w++) {
                                sum += q.get(n, c, t, h, w);
                            }
                        }
                    }
                    assertEquals((float) ((double) sum / 189 * q.scale(c)), g[n * 6 + c], 1e-6f);
                }
            }
        }
    }

    @Test
    void badArgumentsAreExceptionsNotCrashes() {
        long before = MemoryStats.liveHostBytes();
        try (TensorScope scope = TensorScope.open()) {
            Tensor w = random(Shape.of(8, 8, 1, 1, 1), 1, false);
            Int8Conv conv = Int8Conv.pack(w, ConvSpec.of(1));
            QTensor x = Int8Ops.quantize(random(Shape.of(1, 8, 2, 3, 3), 2, true), 0.1f, 0);
            QTensor wrongChannels = Int8Ops.quantize(random(Shape.of(1, 4, 2, 3, 3), 2, true), 0.1f, 0);
            QTensor signed = Int8Ops.quantize(random(Shape.of(1, 8, 2, 3, 3), 2, false), 0.1f, 128);
            Tensor bias = Tensor.zeros(Shape.of(8));
            assertThrows(IllegalArgumentException.class, () -> conv.forward(wrongChannels, bias, null, 1f));
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, Tensor.zeros(Shape.of(7)), null, 1f));
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, bias, signed, 1f), "residual zp 128");
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, bias, wrongChannels, 1f));
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, bias, null, 0f));
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, bias, null, Float.NaN));
            QTensor wide = QTensor.empty(Shape.of(1, 16, 2, 3, 3), 1f, 0);
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, bias, null, wide, 2), "unaligned");
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, bias, null, wide, 12), "past the end");
            QTensor small = QTensor.empty(Shape.of(1, 8, 2, 3, 2), 1f, 0);
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, bias, null, small, 0), "wrong size");
            assertThrows(IllegalArgumentException.class, () -> Int8Conv.pack(w,
                    ConvSpec.builder().stride(1, 1, 3).build()), "W stride 3");
            assertThrows(IllegalArgumentException.class, () -> Int8Conv.pack(w, ConvSpec.builder().kernel(1, 3, 3).build()));
            assertThrows(IllegalArgumentException.class, () -> Int8Ops.avgPool(signed,
                    ConvSpec.builder().kernel(1, 3, 3).build()), "avg pool of zp 128");
            assertThrows(IllegalArgumentException.class, () -> Int8Ops.quantize(Tensor.zeros(Shape.of(3, 4)), 1f, 0));
            assertThrows(IllegalArgumentException.class, () -> QTensor.empty(Shape.of(1, 2, 1, 1, 1), 1f, 256));
            QTensor perChannel = Int8Ops.quantize(random(Shape.of(1, 8, 2, 3, 3), 2, true), channelScales(8, 0.1f), 0);
            assertThrows(IllegalArgumentException.class, () -> conv.forward(perChannel, bias, null, 1f),
                    "packed for one input scale, the input has several");
            try (Int8Conv folded = Int8Conv.pack(w, ConvSpec.of(1), channelScales(8, 0.2f))) {
                assertThrows(IllegalArgumentException.class, () -> folded.forward(perChannel, bias, null, 1f),
                        "packed for other input scales");
                assertThrows(IllegalArgumentException.class, () -> Int8Conv.pack(w, ConvSpec.of(1), new float[3]));
            }
            assertThrows(IllegalArgumentException.class, () -> QTensor.empty(Shape.of(1, 2, 1, 1, 1),
                    new float[] {1f, -1f}, 0), "negative scale");
            QTensor closed = Int8Ops.quantize(random(Shape.of(1, 8, 2, 3, 3), 2, true), 0.1f, 0);
            closed.close();
            assertThrows(IllegalArgumentException.class, () -> conv.forward(closed, bias, null, 1f));
            assertThrows(IllegalArgumentException.class, () -> Int8Ops.dequantize(closed));
            conv.close();
            assertThrows(IllegalStateException.class, () -> conv.forward(x, bias, null, 1f));
            // a good call still works after all that
            try (Int8Conv again = Int8Conv.pack(w, ConvSpec.of(1))) {
                assertEquals(Shape.of(1, 8, 2, 3, 3), again.forward(x, bias, null, 1f).shape());
            }
        }
        assertEquals(before, MemoryStats.liveHostBytes());
    }

    @Test
    void scalarAndVnniQuantiseTheSameBytes() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = random(Shape.of(1, 7, 3, 5, 11), 9, false);
            int kernel = Int8Kernels.sev_int8_kernel();
            byte[][] out = new byte[2][];
            try {
                for (int vnni : new int[] {1, 0}) {
                    Int8Kernels.sev_int8_set_kernel(vnni);
                    out[vnni] = Int8Ops.quantize(x, 0.013f, 128).toByteArray();
                }
            } finally {
                Int8Kernels.sev_int8_set_kernel(kernel);
            }
            assertTrue(Arrays.equals(out[0], out[1]));
        }
    }

    /**
     * The squeeze-excite tail fused into the quantisation equals the four separate steps it replaces
     * (channel scale, dequantise the residual, add + ReLU, quantise) byte for byte, with the VNNI and the
     * scalar kernel, on a ragged channel count and position count, with and without a residual, and into
     * the second half of a concat.
     */
    @Test
    void gatedQuantiseEqualsScaleDequantiseAddReluQuantise() {
        try (TensorScope scope = TensorScope.open()) {
            Shape s = Shape.of(2, 7, 3, 5, 11);
            Tensor z = random(s, 21, false);
            Tensor gate = Tensor.of(new float[] {0.1f, 0.9f, 0.5f, 0.33f, 1f, 0.02f, 0.77f,
                0.6f, 0.4f, 0.2f, 0.95f, 0.05f, 0.5f, 0.61f}, Shape.of(2, 7));
            float[] resScales = {0.02f, 0.05f, 0.01f, 0.03f, 0.04f, 0.02f, 0.07f};
            QTensor residual = Int8Ops.quantize(random(s, 22, true), resScales, 0);
            float[] outScales = {0.03f, 0.02f, 0.04f, 0.01f, 0.05f, 0.03f, 0.02f};
            Backend cpu = Backends.cpu();
            Tensor scaled = cpu.channelScale(z, gate);
            byte[] expectRes = Int8Ops.quantize(cpu.addRelu(scaled, Int8Ops.dequantize(residual)), outScales, 0)
                    .toByteArray();
            // concat: 8 channels of something else first, then these 7 (the last, ragged block)
            float[] concatScales = new float[15];
            Arrays.fill(concatScales, 0.5f);
            System.arraycopy(outScales, 0, concatScales, 8, 7);
            Tensor head = random(s.with(1, 8), 23, true);
            QTensor expectCat = QTensor.empty(s.with(1, 15), concatScales, 0);
            Int8Ops.quantizeInto(head, expectCat, 0);
            Int8Ops.quantizeInto(scaled, expectCat, 8);
            int kernel = Int8Kernels.sev_int8_kernel();
            try {
                for (int vnni : new int[] {1, 0}) {
                    Int8Kernels.sev_int8_set_kernel(vnni);
                    QTensor out = QTensor.empty(s, outScales, 0);
                    Int8Ops.quantizeGatedInto(z, gate, residual, out, 0);
                    assertArrayEquals(expectRes, out.toByteArray(), "with residual, vnni " + vnni);
                    QTensor cat = QTensor.empty(s.with(1, 15), concatScales, 0);
                    Int8Ops.quantizeInto(head, cat, 0);
                    Int8Ops.quantizeGatedInto(z, gate, null, cat, 8);
                    assertArrayEquals(expectCat.toByteArray(), cat.toByteArray(), "into a concat, vnni " + vnni);
                    out.close();
                    cat.close();
                }
            } finally {
                Int8Kernels.sev_int8_set_kernel(kernel);
            }
            QTensor out = QTensor.empty(s, outScales, 0);
            assertThrows(IllegalArgumentException.class,
                    () -> Int8Ops.quantizeGatedInto(z, Tensor.zeros(Shape.of(2, 6)), null, out, 0), "gate shape");
            assertThrows(IllegalArgumentException.class,
                    () -> Int8Ops.quantizeGatedInto(z, gate, Int8Ops.quantize(z, 0.1f, 128), out, 0), "zero point");
            assertThrows(IllegalArgumentException.class,
                    () -> Int8Ops.quantizeGatedInto(z, gate, null, out, 4), "channels past the end");
        }
    }
}
