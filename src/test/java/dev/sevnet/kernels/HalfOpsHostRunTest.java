package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.params;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The 16-bit kernel bodies (kernels/half_ops.cuh, sev_half.cuh) run on the host, against CpuBackend's 16-bit ops
 * and {@link Half}: bit for bit wherever the op is element-wise (widen, the same fp32 op, one rounding).
 */
@ExtendWith(IeeeDenormals.class)
class HalfOpsHostRunTest {
    static final CpuBackend CPU = CpuBackend.get();

    static int code(DType d) {
        return d == DType.BFLOAT16 ? 1 : d == DType.FLOAT16 ? 2 : 0;
    }

    static short[] bits(Tensor t) {
        ByteBuffer b = t.hostBuffer();
        short[] s = new short[Math.toIntExact(t.size())];
        for (int i = 0; i < s.length; i++) {
            s[i] = b.getShort(2 * i);
        }
        return s;
    }

    static void assertSameBits(Tensor expected, Tensor actual, String what) {
        assertEquals(expected.dtype(), actual.dtype(), what);
        short[] e = bits(expected);
        short[] a = bits(actual);
        for (int i = 0; i < e.length; i++) {
            if (e[i] != a[i]) {
                throw new AssertionError(what + ": element " + i + " expected 0x" + Integer.toHexString(e[i] & 0xffff)
                        + " got 0x" + Integer.toHexString(a[i] & 0xffff));
            }
        }
    }

    /**
     * As {@link #assertSameBits}, but any NaN matches any NaN: where two NaNs (or an inf - inf) meet in an add, x86
     * returns the first operand's NaN, and a vectorized CPU loop may put the operands either way round — the sign and
     * payload of a NaN carry no meaning (PyTorch does not promise them either).
     */
    static void assertSameBitsNaNAsNaN(Tensor expected, Tensor actual, String what) {
        assertEquals(expected.dtype(), actual.dtype(), what);
        short[] e = bits(expected);
        short[] a = bits(actual);
        int exp = expected.dtype() == DType.BFLOAT16 ? 0x7f80 : 0x7c00;
        for (int i = 0; i < e.length; i++) {
            boolean eNaN = (e[i] & 0x7fff) > exp;
            boolean aNaN = (a[i] & 0x7fff) > exp;
            if (e[i] != a[i] && !(eNaN && aNaN)) {
                throw new AssertionError(what + ": element " + i + " expected 0x" + Integer.toHexString(e[i] & 0xffff)
                        + " got 0x" + Integer.toHexString(a[i] & 0xffff));
            }
        }
    }

    /** Random values rounded to dtype, a few scaled up so fp16 sees large values too. */
    static Tensor rand16(Random r, DType dt, double scale, long... dims) {
        try (Tensor f = randn(r, scale, dims)) {
            return CPU.cast(f, dt);
        }
    }

    /** Every kind of value: ties of both roundings, subnormals, the fp16 range edges, NaN, infinities. */
    static float[] specials() {
        return new float[] {0f, -0f, 1f, -1f, 0.1f, 1e-3f, 3.14159265f, 65504f, 65519.99f, 65520f, 70000f, -65520f,
            1e-8f, 5.96e-8f, 2.98e-8f, 2.9802322e-8f, 8.9406967e-8f, 6.1035156e-5f, 6.1e-5f, 3e38f, -3.4028235e38f,
            Float.MIN_VALUE, Float.MIN_NORMAL, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.intBitsToFloat(0x3f808000), Float.intBitsToFloat(0x3f818000), Float.intBitsToFloat(0x3f808001),
            Float.intBitsToFloat(0x7f7f8000), Float.intBitsToFloat(0xff800001), Float.intBitsToFloat(0x7fc00001),
            Float.intBitsToFloat(0x3f801000), Float.intBitsToFloat(0x3f803000), 1.00048828125f, 1.00146484375f};
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void castMatchesJavaHalfForSpecialAndRandomValues(DType dt) {
        Random r = new Random(1);
        float[] sp = specials();
        float[] v = Arrays.copyOf(sp, sp.length + 20000);
        for (int i = sp.length; i < v.length; i++) {
            v[i] = i % 2 == 0 ? Float.intBitsToFloat(r.nextInt()) : (float) (r.nextGaussian() * Math.pow(10, r.nextInt(9) - 4));
        }
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.of(v, v.length);
            Tensor cpu = CPU.cast(x, dt);
            Tensor host = Tensor.empty(Shape.of(v.length), dt);
            ok(NativeCore.sev_hostrun_cast(x.address(), 0, host.address(), code(dt), v.length), "hostrun cast");
            assertSameBits(cpu, host, "fp32 -> " + dt);
            short[] b = bits(cpu);
            for (int i = 0; i < v.length; i++) {
                short want = dt == DType.BFLOAT16 ? Half.floatToBf16(v[i]) : Half.fromFloat(v[i]);
                assertEquals(want, b[i], "element " + i + " = " + v[i]);
            }
        }
        // the documented cases
        if (dt == DType.BFLOAT16) {
            assertEquals((short) 0x3f80, Half.floatToBf16(Float.intBitsToFloat(0x3f808000)), "tie to even (down)");
            assertEquals((short) 0x3f82, Half.floatToBf16(Float.intBitsToFloat(0x3f818000)), "tie to even (up)");
            assertEquals((short) 0x3f81, Half.floatToBf16(Float.intBitsToFloat(0x3f808001)), "above the tie");
            assertEquals((short) 0x7f80, Half.floatToBf16(Float.intBitsToFloat(0x7f7f8000)), "overflow to inf");
            assertTrue(Float.isNaN(Half.bf16ToFloat(Half.floatToBf16(Float.intBitsToFloat(0xff800001)))), "NaN stays NaN");
        } else {
            assertEquals((short) 0x7bff, Half.fromFloat(65519.99f), "largest finite");
            assertEquals((short) 0x7c00, Half.fromFloat(65520f), "rounds to inf");
            assertEquals((short) 0xfc00, Half.fromFloat(-70000f), "overflow to -inf");
            assertEquals((short) 0x3c00, Half.fromFloat(1.00048828125f), "tie to even (down)");
            assertEquals((short) 0x3c02, Half.fromFloat(1.00146484375f), "tie to even (up)");
            assertEquals((short) 0x0000, Half.fromFloat(2.9802322e-8f), "2^-25: tie to the even zero");
            assertEquals((short) 0x0001, Half.fromFloat(2.9802326e-8f), "just above 2^-25: smallest subnormal");
            assertTrue(Float.isNaN(Half.toFloat(Half.fromFloat(Float.NaN))), "NaN stays NaN");
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void everySixteenBitPatternWidensExactlyAndRoundTrips(DType dt) {
        int n = 65536;
        try (TensorScope scope = TensorScope.open()) {
            Tensor h = Tensor.empty(Shape.of(n), dt);
            ByteBuffer hb = h.hostBuffer();
            for (int i = 0; i < n; i++) {
                hb.putShort(2 * i, (short) i);
            }
            Tensor cpu = CPU.cast(h, DType.FLOAT32);
            Tensor host = Tensor.empty(Shape.of(n));
            ok(NativeCore.sev_hostrun_cast(h.address(), code(dt), host.address(), 0, n), "hostrun cast");
            float[] c = cpu.toFloatArray();
            float[] o = host.toFloatArray();
            short[] back = bits(CPU.cast(cpu, dt));
            for (int i = 0; i < n; i++) {
                float want = dt == DType.BFLOAT16 ? Half.bf16ToFloat((short) i) : Half.toFloat((short) i);
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(c[i]), "pattern " + i);
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(o[i]), "hostrun pattern " + i);
                if (Float.isNaN(want)) {
                    assertTrue(Float.isNaN(dt == DType.BFLOAT16 ? Half.bf16ToFloat(back[i]) : Half.toFloat(back[i])));
                } else {
                    assertEquals((short) i, back[i], "round trip of pattern " + i);
                }
            }
        }
    }

    @Test
    void castRejectsWhatItCannotDo() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor b = Tensor.zeros(Shape.of(3), DType.BFLOAT16);
            assertThrows(IllegalArgumentException.class, () -> CPU.cast(b, DType.FLOAT16));
            assertThrows(IllegalArgumentException.class, () -> CPU.cast(b, DType.INT64));
            assertThrows(IllegalArgumentException.class, () -> CPU.cast(Tensor.ofLongs(new long[] {1}, 1), DType.BFLOAT16));
            Tensor same = CPU.cast(b, DType.BFLOAT16);
            assertTrue(same != b && same.dtype() == DType.BFLOAT16, "a copy of the same type");
        }
        assertTrue(NativeCore.sev_hostrun_cast(0L, 1, 0L, 2, 0) != 0, "bf16 -> fp16 is refused natively too");
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void convEpilogueMatchesCpuBitForBit(DType dt) {
        Random r = new Random(2);
        // the block's 1x1x1, grouped 1x3x3 (stride 2) and 3x1x1 convs
        ConvSpec[] specs = {ConvSpec.of(1), new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 2), new ConvSpec(3, 1, 1, 1, 1,
            1, 1, 0, 0, 1)};
        for (ConvSpec spec : specs) {
            for (int mode = 0; mode < 4; mode++) {
                boolean bias = mode != 0;
                boolean residual = mode >= 2;
                boolean relu = mode != 2;
                try (TensorScope scope = TensorScope.open()) {
                    long cin = 6;
                    long cout = 6;
                    Tensor x = rand16(r, dt, 1.5, 2, cin, 3, 7, 6);
                    Tensor w = rand16(r, dt, 0.4, cout, cin / spec.groups(), spec.kT(), spec.kH(), spec.kW());
                    Tensor b = bias ? randn(r, 0.5, cout) : null;
                    Shape out = spec.outputShape(x.shape(), cout);
                    Tensor res = residual ? rand16(r, dt, 1.0, out.get(0), out.get(1), out.get(2), out.get(3), out.get(4)) : null;
                    Tensor expected = residual ? CPU.conv3dResidual(x, w, b, spec, res, relu) : CPU.conv3d(x, w, b, spec, relu);
                    // the GPU's order: cuDNN stores the raw conv in 16 bits, then the epilogue kernel runs in place
                    Tensor y = CPU.conv3d(x, w, null, spec, false);
                    ok(NativeCore.sev_hostrun_half_bias_act(y.address(), b == null ? 0L : b.address(),
                            res == null ? 0L : res.address(), out.get(0), cout, out.sizeFrom(2), relu ? 1 : 0, code(dt)),
                            "hostrun bias_act");
                    assertSameBits(expected, y, dt + " " + spec + " bias " + bias + " residual " + residual + " relu " + relu);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void addReluAndReluMatchCpu(DType dt) {
        Random r = new Random(3);
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = rand16(r, dt, 2, 3, 4, 5, 7);
            Tensor b = rand16(r, dt, 2, 3, 4, 5, 7);
            Tensor y = Tensor.empty(a.shape(), dt);
            ok(NativeCore.sev_hostrun_half_add_act(a.address(), b.address(), y.address(), a.size(), 1, code(dt)), "add");
            assertSameBits(CPU.addRelu(a, b), y, "add+relu");
            ok(NativeCore.sev_hostrun_half_add_act(a.address(), 0L, y.address(), a.size(), 1, code(dt)), "relu");
            assertSameBits(CPU.relu(a), y, "relu");
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void poolingMatchesCpu(DType dt) {
        Random r = new Random(4);
        int[][][] cases = {{{2, 5, 3, 11, 13}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}}, {{1, 2, 4, 5, 5}, {3, 3, 3}, {1, 1, 1},
            {1, 1, 1}}};
        for (int[][] cs : cases) {
            int[] d = cs[0];
            int[] p = params(d[0], d[1], d[2], d[3], d[4], cs[1], cs[2], cs[3]);
            ConvSpec window = new ConvSpec(cs[1][0], cs[1][1], cs[1][2], cs[2][0], cs[2][1], cs[2][2], cs[3][0],
                    cs[3][1], cs[3][2], 1);
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = rand16(r, dt, 1, d[0], d[1], d[2], d[3], d[4]);
                Tensor expected = CPU.avgPool3d(x, window);
                Tensor y = Tensor.empty(expected.shape(), dt);
                ok(NativeCore.sev_hostrun_half_avgpool3d_forward(x.address(), y.address(), p, code(dt)), "hostrun");
                assertSameBits(expected, y, "avgpool " + Arrays.deepToString(cs));

                Tensor g = CPU.globalAvgPool(x);
                assertEquals(DType.FLOAT32, g.dtype(), "16-bit in, fp32 out");
                Tensor gh = Tensor.empty(g.shape());
                long s = x.shape().sizeFrom(2);
                ok(NativeCore.sev_hostrun_half_global_avgpool_forward(x.address(), gh.address(), d[0], d[1], s,
                        code(dt)), "hostrun");
                KernelTestSupport.assertClose(g, gh, 1e-6, 1e-7, "global avgpool");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void channelScaleAndConcatMatchCpu(DType dt) {
        Random r = new Random(5);
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = rand16(r, dt, 2, 2, 6, 3, 5, 5);
            Tensor g = KernelTestSupport.uniform(r, 0, 1, 2, 6);
            Tensor y = Tensor.empty(x.shape(), dt);
            ok(NativeCore.sev_hostrun_half_channel_scale_forward(x.address(), g.address(), y.address(), 2, 6, 75,
                    code(dt)), "hostrun");
            assertSameBits(CPU.channelScale(x, g), y, "channel scale");

            Tensor a = rand16(r, dt, 1, 2, 3, 2, 4, 4);
            Tensor b = rand16(r, dt, 1, 2, 5, 2, 4, 4);
            Tensor cat = CPU.concatChannels(a, b);
            assertEquals(Shape.of(2, 8, 2, 4, 4), cat.shape());
            Tensor ch = Tensor.empty(cat.shape(), dt);
            ok(NativeCore.sev_hostrun_half_concat_channels(a.address(), b.address(), ch.address(), 2, 3, 5, 32),
                    "hostrun");
            assertSameBits(cat, ch, "concat");
            // the concat is the fp32 concat of the widened values
            float[] want = CPU.concatChannels(CPU.cast(a, DType.FLOAT32), CPU.cast(b, DType.FLOAT32)).toFloatArray();
            assertTrue(Arrays.equals(want, cat.toFloatArray()));
        }
    }

    @Test
    void mixedAndUnsupportedSixteenBitArgumentsAreRejected() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor b16 = Tensor.zeros(Shape.of(1, 2, 1, 3, 3), DType.BFLOAT16);
            Tensor h16 = Tensor.zeros(Shape.of(1, 2, 1, 3, 3), DType.FLOAT16);
            Tensor f = Tensor.zeros(Shape.of(1, 2, 1, 3, 3));
            Tensor w16 = Tensor.zeros(Shape.of(2, 2, 1, 1, 1), DType.BFLOAT16);
            Tensor w32 = Tensor.zeros(Shape.of(2, 2, 1, 1, 1));
            ConvSpec one = ConvSpec.of(1);
            assertThrows(IllegalArgumentException.class, () -> CPU.conv3d(b16, w32, null, one, false), "fp32 weight");
            assertThrows(IllegalArgumentException.class, () -> CPU.conv3d(f, w16, null, one, false), "16-bit weight");
            assertThrows(IllegalArgumentException.class,
                    () -> CPU.conv3d(b16, w16, Tensor.zeros(Shape.of(2), DType.BFLOAT16), one, false), "16-bit bias");
            assertThrows(IllegalArgumentException.class, () -> CPU.conv3dResidual(b16, w16, null, one, h16, true),
                    "residual of another type");
            assertThrows(IllegalArgumentException.class, () -> CPU.addRelu(b16, h16));
            assertThrows(IllegalArgumentException.class, () -> CPU.concatChannels(b16, f));
            assertThrows(IllegalArgumentException.class, () -> CPU.add(b16, h16), "add of two 16-bit types");
            assertThrows(IllegalArgumentException.class, () -> CPU.mul(b16, b16), "mul has no 16-bit form");
            assertThrows(IllegalArgumentException.class, () -> CPU.sigmoid(b16), "sigmoid has no 16-bit form");
            assertThrows(IllegalArgumentException.class,
                    () -> CPU.channelScale(b16, Tensor.zeros(Shape.of(1, 2), DType.BFLOAT16)), "16-bit gate");
            assertThrows(IllegalArgumentException.class,
                    () -> CPU.batchNormEval(b16, null, null, Tensor.zeros(Shape.of(2)), Tensor.zeros(Shape.of(2)), 1e-5,
                            false));
        }
    }
}
