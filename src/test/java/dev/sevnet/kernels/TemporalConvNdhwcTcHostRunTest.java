package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

/**
 * The tensor-core channels-last temporal conv (kernels/temporal_conv_ndhwc_tc.cuh: its 16-byte loads of the A and B
 * tiles, with the padding frames and ragged edges as zeros, and its epilogue slots; the four warps' WMMA as loops in
 * the host driver) against the plain-loop reference {@code sev_temporal_conv3_ndhwc_*_f32} (sums in double), with the
 * forward's epilogue (bias, residual, ReLU) added in double here. The kernel reads the weight in KTRSC ([C][3][C]);
 * the reference in PyTorch's [C][C][3]: the test permutes it.
 *
 * <p>Tolerances. fp32 storage goes through TF32: the reference is run on the inputs rounded to TF32 as the kernel
 * rounds them (nearest, ties away), so what is left is the kernel's fp32 accumulation — the fp32 conv tests' bounds
 * (1e-5 norm-wise, 4e-5 (|ref| + rms) per element); against the unrounded inputs the result is within TF32's own
 * error (1.5e-3 norm-wise). bf16 and fp16: products of 16-bit values are exact in fp32, the kernel rounds its fp32
 * sum (epilogue included) once, the reference its double one: within one ulp of the format, at least 99% bit-equal.
 * Shapes: the ragged set of the CUDA-core kernel's test (T = 1, 2, 3; C = 1, 17, 33, 65, 70: not a multiple of the
 * 4- or 8-wide slot, so the element-wise loads; T*H*W below, at and above a 64-position tile), C = 68 and 96
 * (16-byte slots for fp32 only; a partial second channel tile), and SEVNet-G8's channel counts.
 */
class TemporalConvNdhwcTcHostRunTest {
    static final int[][] EXTRA = {{1, 68, 3, 4, 5}, {2, 96, 3, 5, 5}};

    static int[][] shapes() {
        int[][] base = TemporalConvNdhwcHostRunTest.allShapes();
        int[][] all = Arrays.copyOf(base, base.length + EXTRA.length);
        System.arraycopy(EXTRA, 0, all, base.length, EXTRA.length);
        return all;
    }

    /** fp32 -> TF32 as the tensor cores take it (cvt.rna.tf32.f32). */
    static float tf32(float v) {
        int u = Float.floatToRawIntBits(v);
        if ((u & 0x7f800000) != 0x7f800000) {
            u = (u + 0x1000) & 0xffffe000;
        }
        return Float.intBitsToFloat(u);
    }

    static float[] tf32(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = tf32(a[i]);
        }
        return r;
    }

    /** KTRSC [C][3][C] (w[co][k][ci]) -> PyTorch [C][C][3] (w[co][ci][k]). */
    static float[] toPyTorch(float[] ktrsc, int c) {
        float[] pt = new float[ktrsc.length];
        for (int co = 0; co < c; co++) {
            for (int k = 0; k < 3; k++) {
                for (int ci = 0; ci < c; ci++) {
                    pt[(co * c + ci) * 3 + k] = ktrsc[(co * 3 + k) * c + ci];
                }
            }
        }
        return pt;
    }

    /** A tensor of dtype dt holding random values (16-bit: rounded to it) and their fp32 values. */
    record Input(Tensor t, float[] v) {
    }

    static Input input(Random r, DType dt, long... dims) {
        Tensor t = dt == DType.FLOAT32 ? randn(r, dims) : KernelTestSupport.randn16(r, dt, dims);
        return new Input(t, t.toFloatArray());
    }

    static Tensor nanOf(DType dt, long... dims) {
        return dt == DType.FLOAT32 ? nan(dims) : KernelTestSupport.nan16(dt, dims);
    }

    static int code(DType dt) {
        return dt == DType.FLOAT32 ? 0 : dt == DType.BFLOAT16 ? 1 : 2;
    }

    /**
     * The reference: y = act((conv(src, w) + bias) + residual) (forward) or dx = conv^T(src, w) (backward-data) on the
     * given fp32 values, conv by {@code sev_temporal_conv3_ndhwc_*_f32}, the rest in double.
     */
    static float[] reference(boolean backwardData, float[] src, float[] wKtrsc, float[] bias, float[] residual,
            boolean relu, int n, int c, int t, long sp) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor s = Tensor.of(src, Shape.of(n, t, sp, c));
            Tensor w = Tensor.of(toPyTorch(wKtrsc, c), Shape.of(c, c, 3));
            Tensor out = nan(n, t, sp, c);
            ok(backwardData
                    ? NativeCore.sev_temporal_conv3_ndhwc_backward_data_f32(s.address(), w.address(), out.address(), n,
                            c, t, sp)
                    : NativeCore.sev_temporal_conv3_ndhwc_forward_f32(s.address(), w.address(), out.address(), n, c,
                            t, sp), "reference");
            float[] y = out.toFloatArray();
            for (int i = 0; i < y.length; i++) {
                double v = y[i];
                if (bias != null) {
                    v += bias[i % c];
                }
                if (residual != null) {
                    v += residual[i];
                }
                y[i] = (float) (relu ? Math.max(v, 0) : v);
            }
            return y;
        }
    }

    /** The expected fp32 values as a tensor of dt (16-bit: rounded once). */
    static Tensor asDType(float[] v, DType dt, long... dims) {
        if (dt == DType.FLOAT32) {
            return Tensor.of(v, Shape.of(dims));
        }
        Tensor t = Tensor.empty(Shape.of(dims), dt);
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < v.length; i++) {
            b.putShort(2 * i, dt == DType.BFLOAT16 ? Half.floatToBf16(v[i]) : Half.fromFloat(v[i]));
        }
        return t;
    }

    static void assertMatches(float[] expected, Tensor actual, DType dt, String what) {
        Tensor e = asDType(expected, dt, actual.shape().dims());
        if (dt == DType.FLOAT32) {
            TemporalConvNdhwcHostRunTest.assertFp32(e, actual, what);
        } else {
            TemporalConvNdhwcHostRunTest.assertHalf(e, actual, dt, what);
        }
    }

    static double normRelative(float[] expected, float[] actual) {
        double num = 0, den = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = (double) expected[i] - actual[i];
            num += d * d;
            den += (double) expected[i] * expected[i];
        }
        return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void forwardWithItsEpilogueMatchesTheReference(DType dt) {
        Random r = new Random(41 + dt.ordinal());
        int[][] all = shapes();
        for (int i = 0; i < all.length; i++) {
            int[] s = all[i];
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            // every shape a different epilogue: none, bias, bias + ReLU, bias + residual + ReLU, residual alone
            boolean withBias = i % 5 == 1 || i % 5 == 2 || i % 5 == 3;
            boolean withResidual = i % 5 == 3 || i % 5 == 4;
            boolean relu = i % 5 == 2 || i % 5 == 3;
            try (TensorScope scope = TensorScope.open()) {
                Input x = input(r, dt, n, t, sp, c);
                Input w = input(r, dt, c, 3, c);
                Tensor bias = withBias ? randn(r, c) : null;
                Input res = withResidual ? input(r, dt, n, t, sp, c) : null;
                Tensor y = nanOf(dt, n, t, sp, c);
                String what = dt + " forward " + Arrays.toString(s) + (withBias ? " +bias" : "")
                        + (withResidual ? " +residual" : "") + (relu ? " relu" : "");
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_forward(x.t().address(), w.t().address(),
                        bias == null ? 0L : bias.address(), res == null ? 0L : res.t().address(), relu ? 1 : 0,
                        y.address(), n, c, t, sp, code(dt)), what);
                boolean f32 = dt == DType.FLOAT32;
                float[] b = bias == null ? null : bias.toFloatArray();
                float[] rv = res == null ? null : res.v();
                float[] expected = reference(false, f32 ? tf32(x.v()) : x.v(), f32 ? tf32(w.v()) : w.v(), b, rv, relu,
                        n, c, t, sp);
                assertMatches(expected, y, dt, what);
                if (f32) {
                    double err = normRelative(reference(false, x.v(), w.v(), b, rv, relu, n, c, t, sp),
                            y.toFloatArray());
                    assertTrue(err <= 1.5e-3, what + ": TF32 error against the IEEE reference " + err);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void backwardDataMatchesTheReference(DType dt) {
        Random r = new Random(51 + dt.ordinal());
        for (int[] s : shapes()) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Input dy = input(r, dt, n, t, sp, c);
                Input w = input(r, dt, c, 3, c);
                Tensor dx = nanOf(dt, n, t, sp, c);
                String what = dt + " backward-data " + Arrays.toString(s);
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_backward_data(dy.t().address(), w.t().address(),
                        dx.address(), n, c, t, sp, code(dt)), what);
                boolean f32 = dt == DType.FLOAT32;
                float[] expected = reference(true, f32 ? tf32(dy.v()) : dy.v(), f32 ? tf32(w.v()) : w.v(), null, null,
                        false, n, c, t, sp);
                assertMatches(expected, dx, dt, what);
            }
        }
    }

    /**
     * Backward-weight (fp32 dw in KTRSC, split-K over the positions, the partials added in order) against the
     * reference's [C][C][3] dw, permuted: fp32 accumulation bounds for every dtype (fp32 inputs TF32-rounded for the
     * reference, 16-bit ones widened: their products are exact either way).
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void backwardWeightMatchesTheReference(DType dt) {
        Random r = new Random(71 + dt.ordinal());
        for (int[] s : shapes()) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Input x = input(r, dt, n, t, sp, c);
                Input dy = input(r, dt, n, t, sp, c);
                Tensor dw = nan(c, 3, c);
                String what = dt + " backward-weight " + Arrays.toString(s);
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_backward_weight(x.t().address(), dy.t().address(),
                        dw.address(), n, c, t, sp, code(dt)), what);
                boolean f32 = dt == DType.FLOAT32;
                Tensor xs = Tensor.of(f32 ? tf32(x.v()) : x.v(), Shape.of(n, t, sp, c));
                Tensor dys = Tensor.of(f32 ? tf32(dy.v()) : dy.v(), Shape.of(n, t, sp, c));
                Tensor ref = nan(c, c, 3);
                ok(NativeCore.sev_temporal_conv3_ndhwc_backward_weight_f32(xs.address(), dys.address(), ref.address(),
                        n, c, t, sp), "reference");
                Tensor refKtrsc = Tensor.of(toKtrsc(ref.toFloatArray(), c), Shape.of(c, 3, c));
                TemporalConvNdhwcHostRunTest.assertFp32(refKtrsc, dw, what);
            }
        }
        // no positions: dw is zeros, x and dy are not read
        try (TensorScope scope = TensorScope.open()) {
            Tensor dw = nan(4, 3, 4);
            ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_backward_weight(0L, 0L, dw.address(), 0, 4, 2, 3,
                    code(dt)), "dw, N = 0");
            for (float v : dw.toFloatArray()) {
                assertEquals(0f, v, "dw of no positions");
            }
        }
    }

    /** PyTorch [C][C][3] (w[co][ci][k]) -> KTRSC [C][3][C] (w[co][k][ci]). */
    static float[] toKtrsc(float[] pt, int c) {
        float[] k = new float[pt.length];
        for (int co = 0; co < c; co++) {
            for (int ci = 0; ci < c; ci++) {
                for (int tap = 0; tap < 3; tap++) {
                    k[(co * 3 + tap) * c + ci] = pt[(co * c + ci) * 3 + tap];
                }
            }
        }
        return k;
    }

    /**
     * Tensors at an address that is not 16-byte aligned (a view one element in) take the element-by-element loads and
     * stores even where C would allow 16-byte ones: same result as the reference.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16"})
    void unalignedTensorsTakeTheElementPath(DType dt) {
        Random r = new Random(61);
        int n = 2, c = 64, t = 3;
        long sp = 10, size = n * t * sp * c;
        long es = dt.byteSize();
        try (TensorScope scope = TensorScope.open()) {
            Input x = input(r, dt, size + 1);
            Input w = input(r, dt, 3L * c * c);
            Input res = input(r, dt, size + 1);
            Tensor bias = randn(r, c);
            Tensor y = nanOf(dt, size + 1);
            ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_forward(x.t().address() + es, w.t().address(),
                    bias.address(), res.t().address() + es, 1, y.address() + es, n, c, t, sp, code(dt)), "unaligned");
            boolean f32 = dt == DType.FLOAT32;
            float[] xv = Arrays.copyOfRange(x.v(), 1, (int) size + 1);
            float[] expected = reference(false, f32 ? tf32(xv) : xv, f32 ? tf32(w.v()) : w.v(), bias.toFloatArray(),
                    Arrays.copyOfRange(res.v(), 1, (int) size + 1), true, n, c, t, sp);
            float[] all = y.toFloatArray();
            assertTrue(Float.isNaN(all[0]), "the element before the view is not written");
            Tensor got = dt == DType.FLOAT32 ? Tensor.of(Arrays.copyOfRange(all, 1, (int) size + 1), Shape.of(size))
                    : slice16(y, 1, size, dt);
            assertMatches(expected, got, dt, dt + " forward, tensors one element off 16-byte alignment");
        }
    }

    /** count 16-bit elements of t from index from, as a new tensor of dt (raw bits). */
    static Tensor slice16(Tensor t, long from, long count, DType dt) {
        Tensor out = Tensor.empty(Shape.of(count), dt);
        ByteBuffer src = t.hostBuffer(), dst = out.hostBuffer();
        for (int i = 0; i < count; i++) {
            dst.putShort(2 * i, src.getShort((int) (2 * (from + i))));
        }
        return out;
    }

    @Test
    void tf32RoundsToNearestTiesAwayAndKeepsSpecials() {
        assertEquals(1.0f, tf32(1.0f));
        float ulp = Math.ulp(1.0f) * 8192; // TF32's ulp at 1: 2^-10
        assertEquals(1.0f + ulp, tf32(1.0f + ulp / 2)); // a tie: away from zero
        assertEquals(-1.0f - ulp, tf32(-1.0f - ulp / 2));
        assertEquals(1.0f, tf32(1.0f + ulp / 2 - Math.ulp(1.0f)));
        assertTrue(Float.isNaN(tf32(Float.NaN)));
        assertEquals(Float.POSITIVE_INFINITY, tf32(Float.POSITIVE_INFINITY));
    }

    /** What the launcher refuses, the host driver refuses the same way (the same check): SEV_EINVAL and why. */
    @Test
    void badArgumentsAreErrorsWithAMessage() {
        try (TensorScope scope = TensorScope.open()) {
            long a = nan(4096).address(), b = nan(4096).address(), o = nan(4096).address();
            // n, c, t, s, dtype, the reason expected
            Object[][] bad = {{-1, 8, 1, 9L, 0, "negative size"}, {1, 8, 1, -9L, 0, "negative size"},
                {1, 8, 1, 9L, 3, "dtype"}, {65536, 8, 1, 1L, 0, "65535 items"}, {1, 65536 * 64 + 1, 1, 1L, 0,
                    "channels"}, {1, 8, 1 << 30, 1L << 10, 0, "2^36"}};
            for (Object[] e : bad) {
                int n = (Integer) e[0], c = (Integer) e[1], t = (Integer) e[2], dt = (Integer) e[4];
                long sp = (Long) e[3];
                String why = (String) e[5];
                TemporalConvNdhwcHostRunTest.expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_forward(a, b,
                        0L, 0L, 0, o, n, c, t, sp, dt), "temporal_conv3_ndhwc_tc_forward", why);
                TemporalConvNdhwcHostRunTest.expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_backward_data(a,
                        b, o, n, c, t, sp, dt), "temporal_conv3_ndhwc_tc_backward_data", why);
                TemporalConvNdhwcHostRunTest.expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_backward_weight(
                        a, b, o, n, c, t, sp, dt), "temporal_conv3_ndhwc_tc_backward_weight", why);
            }
            TemporalConvNdhwcHostRunTest.expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_forward(a, 0L, 0L, 0L,
                    0, o, 1, 8, 1, 9L, 0), "temporal_conv3_ndhwc_tc_forward", "NULL pointer");
            TemporalConvNdhwcHostRunTest.expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_backward_weight(a, b,
                    0L, 1, 8, 1, 9L, 0), "temporal_conv3_ndhwc_tc_backward_weight", "NULL pointer");
            // nothing to compute: no pointer is read
            ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_forward(0L, 0L, 0L, 0L, 0, 0L, 0, 8, 1, 9L, 0), "empty");
            ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_backward_data(0L, 0L, 0L, 2, 0, 1, 9L, 1), "empty");
        }
    }
}
