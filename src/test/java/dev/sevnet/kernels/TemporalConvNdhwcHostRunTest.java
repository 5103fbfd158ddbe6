package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The channels-last temporal conv's kernel bodies (kernels/temporal_conv_ndhwc.cuh: the tiled GEMM over positions,
 * block by block and thread by thread; the split-K backward-weight) run on the host, fp32 and bf16, against the
 * plain-loop CPU references {@code sev_temporal_conv3_ndhwc_*} (sums in double, one rounding per output), and
 * the layout tied to the NCDHW conv {@code sev_conv3d_*} through the transposes.
 *
 * <p>Tolerances. fp32: the kernel's only error is its fp32 accumulation (up to 3C products for y/dx, N*T*H*W
 * for dw), so the norm-wise relative error is at most 1e-5 and each element within 4e-5 (|ref| + rms(ref)) — a
 * wrong index or a missing tap is an O(1) error. bf16: both sides read the same bf16 inputs (widened exactly,
 * and a product of two bf16 values is exact in fp32); the reference rounds the exact (double) sum once to bf16,
 * the kernel its fp32 sum (relative error ~1e-6, far below bf16's 2^-8). The two roundings can differ only
 * where the sum lies within that fp32 error of a bf16 rounding boundary: then by one bf16 ulp. So each y/dx
 * element is within one bf16 ulp of the reference (plus 1e-5 rms(ref) for results that cancel to near
 * zero), and nearly all (here at least 99%) are bit-identical. dw is fp32 in both variants: the fp32 tolerance.
 * Also: the bf16 body on bf16 inputs is exactly the fp32 body on the widened inputs, rounded once (same sums in
 * the same order) — bit for bit.
 */
class TemporalConvNdhwcHostRunTest {
    // n, c, t, h, w: T = 1 (both taps padding), 2, 3; C not a multiple of 16 or 64 (C = 70, 65: two channel
    // tiles, 3C tap-channels crossing slices), C = 1; T*H*W odd, below, at and above a 64-position tile, S = 1
    static final int[][] RAGGED = {{1, 4, 3, 5, 7}, {2, 6, 8, 4, 4}, {1, 3, 1, 2, 3}, {2, 5, 2, 9, 11},
        {1, 17, 3, 3, 7}, {2, 70, 3, 5, 5}, {1, 65, 2, 1, 1}, {3, 1, 5, 3, 3}, {1, 33, 5, 5, 5}};
    // SEVNet-G8's temporal convs (stem 32, stages 64/128/256/512 and the downsample blocks' C_s/2) at batch 1-2,
    // a few frames and a small H x W
    static final int[][] G8 = {{2, 32, 4, 4, 4}, {1, 64, 8, 3, 3}, {2, 128, 4, 3, 3}, {1, 256, 4, 2, 3},
        {2, 512, 2, 2, 3}};

    static final double FP32_NORM = 1e-5;
    static final double FP32_ELEM = 4e-5;
    static final double BF16_MIN_EQUAL = 0.99;

    static int[][] allShapes() {
        int[][] all = Arrays.copyOf(RAGGED, RAGGED.length + G8.length);
        System.arraycopy(G8, 0, all, RAGGED.length, G8.length);
        return all;
    }

    // ---- bf16 host tensors (raw bits, Tensor dtype BFLOAT16) ----

    /** Random values rounded to bf16. */
    static Tensor randnBf16(Random r, long... dims) {
        return KernelTestSupport.randn16(r, DType.BFLOAT16, dims);
    }

    /** A bf16 tensor of NaN bits: an element left unwritten shows up. */
    static Tensor nanBf16(long... dims) {
        return KernelTestSupport.nan16(DType.BFLOAT16, dims);
    }

    /** fp32 copy of a bf16 tensor (exact). */
    static Tensor widen(Tensor bf16) {
        return bf16.toFloat32();
    }

    static short[] bits(Tensor bf16) {
        ByteBuffer b = bf16.hostBuffer();
        short[] a = new short[Math.toIntExact(bf16.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = b.getShort(2 * i);
        }
        return a;
    }

    // ---- comparisons ----

    static double rms(float[] a) {
        double s = 0;
        for (float v : a) {
            s += (double) v * v;
        }
        return Math.sqrt(s / Math.max(1, a.length));
    }

    /** fp32 result of a kernel body against the reference: norm-wise and element-wise (see the class comment). */
    static void assertFp32(Tensor expected, Tensor actual, String what) {
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        assertEquals(e.length, a.length, what + ": length");
        double rms = rms(e), num = 0, den = 0;
        for (int i = 0; i < e.length; i++) {
            double err = Math.abs((double) e[i] - a[i]);
            if (!(err <= FP32_ELEM * (Math.abs(e[i]) + rms))) {
                fail(what + "[" + i + "]: expected " + e[i] + ", got " + a[i] + " (rms " + rms + ")");
            }
            num += err * err;
            den += (double) e[i] * e[i];
        }
        double rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
        assertTrue(rel <= FP32_NORM, what + ": norm-wise relative error " + rel + " > " + FP32_NORM);
    }

    /** One bf16 ulp at v: 2^(exponent - 7); subnormals have the smallest exponent's ulp. */
    static double bf16Ulp(float v) {
        int exp = Math.max(Math.getExponent(v), Float.MIN_EXPONENT);
        return Math.scalb(1.0, exp - 7);
    }

    /** bf16 y/dx against the reference on the same bf16 inputs: within one bf16 ulp, nearly all bit-equal. */
    static void assertBf16(Tensor expected, Tensor actual, String what) {
        assertHalf(expected, actual, DType.BFLOAT16, what);
    }

    /**
     * A 16-bit (bf16 or fp16) result against the reference on the same inputs: within one ulp of the format (plus
     * 1e-5 rms for results that cancel to near zero), nearly all bit-equal.
     */
    static void assertHalf(Tensor expected, Tensor actual, DType dt, String what) {
        boolean bf = dt == DType.BFLOAT16;
        short[] eb = bits(expected);
        short[] ab = bits(actual);
        float[] e = expected.toFloatArray();
        double slack = 1e-5 * rms(e);
        int equal = 0;
        for (int i = 0; i < eb.length; i++) {
            if (eb[i] == ab[i]) {
                equal++;
                continue;
            }
            float a = bf ? Half.bf16ToFloat(ab[i]) : Half.toFloat(ab[i]);
            double ulp = bf ? bf16Ulp(e[i]) : Math.scalb(1.0, Math.max(Math.getExponent(e[i]), -14) - 10);
            if (!(Math.abs((double) e[i] - a) <= ulp + slack)) {
                fail(what + "[" + i + "]: expected " + e[i] + ", got " + a + " (more than one " + dt + " ulp)");
            }
        }
        double frac = eb.length == 0 ? 1 : (double) equal / eb.length;
        assertTrue(frac >= BF16_MIN_EQUAL, what + ": only " + frac + " of the elements bit-equal to the reference");
    }

    static String name(int[] s) {
        return Arrays.toString(s);
    }

    // ---- fp32 ----

    @Test
    void fp32ForwardMatchesReference() {
        Random r = new Random(11);
        for (int[] s : allShapes()) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, t, sp, c);
                Tensor w = randn(r, c, c, 3);
                Tensor ref = nan(n, t, sp, c);
                Tensor y = nan(n, t, sp, c);
                ok(NativeCore.sev_temporal_conv3_ndhwc_forward_f32(x.address(), w.address(), ref.address(), n, c, t, sp),
                        "reference");
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_f32(x.address(), w.address(), y.address(), n, c,
                        t, sp), "hostrun");
                assertFp32(ref, y, "fp32 forward " + name(s));
            }
        }
    }

    @Test
    void fp32BackwardDataMatchesReference() {
        Random r = new Random(12);
        for (int[] s : allShapes()) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor dy = randn(r, n, t, sp, c);
                Tensor w = randn(r, c, c, 3);
                Tensor ref = nan(n, t, sp, c);
                Tensor dx = nan(n, t, sp, c);
                ok(NativeCore.sev_temporal_conv3_ndhwc_backward_data_f32(dy.address(), w.address(), ref.address(), n, c,
                        t, sp), "reference");
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_data_f32(dy.address(), w.address(), dx.address(),
                        n, c, t, sp), "hostrun");
                assertFp32(ref, dx, "fp32 backward data " + name(s));
            }
        }
    }

    @Test
    void fp32BackwardWeightMatchesReference() {
        Random r = new Random(13);
        for (int[] s : allShapes()) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, t, sp, c);
                Tensor dy = randn(r, n, t, sp, c);
                Tensor ref = nan(c, c, 3);
                Tensor dw = nan(c, c, 3);
                ok(NativeCore.sev_temporal_conv3_ndhwc_backward_weight_f32(x.address(), dy.address(), ref.address(), n,
                        c, t, sp), "reference");
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_f32(x.address(), dy.address(),
                        dw.address(), n, c, t, sp), "hostrun");
                assertFp32(ref, dw, "fp32 backward weight " + name(s));
            }
        }
    }

    // ---- bf16 ----

    @Test
    void bf16ForwardMatchesReferenceAndIsTheFp32BodyRoundedOnce() {
        Random r = new Random(21);
        for (int[] s : allShapes()) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randnBf16(r, n, t, sp, c);
                Tensor w = randnBf16(r, c, c, 3);
                Tensor ref = nanBf16(n, t, sp, c);
                Tensor y = nanBf16(n, t, sp, c);
                ok(NativeCore.sev_temporal_conv3_ndhwc_forward_bf16(x.address(), w.address(), ref.address(), n, c, t,
                        sp), "reference");
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_bf16(x.address(), w.address(), y.address(), n, c,
                        t, sp), "hostrun");
                assertBf16(ref, y, "bf16 forward " + name(s));
                Tensor y32 = nan(n, t, sp, c);
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_f32(widen(x).address(), widen(w).address(),
                        y32.address(), n, c, t, sp), "hostrun fp32");
                assertRoundedOnce(y32, y, "bf16 forward vs fp32 body " + name(s));
            }
        }
    }

    @Test
    void bf16BackwardDataMatchesReferenceAndIsTheFp32BodyRoundedOnce() {
        Random r = new Random(22);
        for (int[] s : allShapes()) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor dy = randnBf16(r, n, t, sp, c);
                Tensor w = randnBf16(r, c, c, 3);
                Tensor ref = nanBf16(n, t, sp, c);
                Tensor dx = nanBf16(n, t, sp, c);
                ok(NativeCore.sev_temporal_conv3_ndhwc_backward_data_bf16(dy.address(), w.address(), ref.address(), n,
                        c, t, sp), "reference");
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_data_bf16(dy.address(), w.address(),
                        dx.address(), n, c, t, sp), "hostrun");
                assertBf16(ref, dx, "bf16 backward data " + name(s));
                Tensor dx32 = nan(n, t, sp, c);
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_data_f32(widen(dy).address(),
                        widen(w).address(), dx32.address(), n, c, t, sp), "hostrun fp32");
                assertRoundedOnce(dx32, dx, "bf16 backward data vs fp32 body " + name(s));
            }
        }
    }

    @Test
    void bf16BackwardWeightMatchesReferenceInFp32() {
        Random r = new Random(23);
        for (int[] s : allShapes()) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randnBf16(r, n, t, sp, c);
                Tensor dy = randnBf16(r, n, t, sp, c);
                Tensor ref = nan(c, c, 3);
                Tensor dw = nan(c, c, 3);
                ok(NativeCore.sev_temporal_conv3_ndhwc_backward_weight_bf16(x.address(), dy.address(), ref.address(), n,
                        c, t, sp), "reference");
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_bf16(x.address(), dy.address(),
                        dw.address(), n, c, t, sp), "hostrun");
                assertFp32(ref, dw, "bf16 backward weight " + name(s));
                // the fp32 body on the widened inputs: the same products and sums, so the same bits
                Tensor dw32 = nan(c, c, 3);
                ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_f32(widen(x).address(),
                        widen(dy).address(), dw32.address(), n, c, t, sp), "hostrun fp32");
                KernelTestSupport.assertBitwise(dw32, dw, "bf16 backward weight vs fp32 body " + name(s));
            }
        }
    }

    /** bf16 = round_bf16(fp32) element by element, bit for bit. */
    static void assertRoundedOnce(Tensor fp32, Tensor bf16, String what) {
        float[] f = fp32.toFloatArray();
        short[] b = bits(bf16);
        for (int i = 0; i < f.length; i++) {
            if (Half.floatToBf16(f[i]) != b[i]) {
                fail(what + "[" + i + "]: fp32 body " + f[i] + " rounds to " + Half.bf16ToFloat(Half.floatToBf16(f[i]))
                        + ", bf16 body gave " + Half.bf16ToFloat(b[i]));
            }
        }
    }

    // ---- the layout tied to the NCDHW conv ----

    private static final ConvSpec SPEC = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();

    @Test
    void transposedItIsTheNcdhwConv() {
        Random r = new Random(31);
        int[][] shapes = {{2, 5, 3, 4, 7}, {1, 70, 4, 3, 3}, {2, 64, 5, 2, 5}, {1, 3, 1, 5, 5}};
        for (int[] s : shapes) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4], tsp = t * sp;
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, c, t, s[3], s[4]);
                Tensor dy = randn(r, n, c, t, s[3], s[4]);
                Tensor w = randn(r, c, c, 3, 1, 1);
                int[] p = SPEC.nativeParams(x.shape(), c);
                Tensor xl = nan(n, t, sp, c);
                Tensor dyl = nan(n, t, sp, c);
                ok(NativeCore.sev_ncdhw_to_ndhwc(x.address(), xl.address(), n, c, tsp), "x to NDHWC");
                ok(NativeCore.sev_ncdhw_to_ndhwc(dy.address(), dyl.address(), n, c, tsp), "dy to NDHWC");

                Tensor y = nan(x.size());
                ok(NativeCore.sev_conv3d_forward(x.address(), w.address(), 0L, y.address(), p, 0), "conv3d forward");
                Tensor dx = nan(x.size());
                ok(NativeCore.sev_conv3d_backward_data(dy.address(), w.address(), dx.address(), p), "conv3d bwd data");
                Tensor dw = nan((long) c * c * 3);
                ok(NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), dw.address(), p), "conv3d bwd w");

                for (boolean host : new boolean[] {false, true}) {
                    String who = (host ? "hostrun " : "reference ") + name(s);
                    Tensor yl = nan(n, t, sp, c);
                    Tensor dxl = nan(n, t, sp, c);
                    Tensor dwl = nan(c, c, 3);
                    if (host) {
                        ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_f32(xl.address(), w.address(),
                                yl.address(), n, c, t, sp), who);
                        ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_data_f32(dyl.address(), w.address(),
                                dxl.address(), n, c, t, sp), who);
                        ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_f32(xl.address(), dyl.address(),
                                dwl.address(), n, c, t, sp), who);
                    } else {
                        ok(NativeCore.sev_temporal_conv3_ndhwc_forward_f32(xl.address(), w.address(), yl.address(), n,
                                c, t, sp), who);
                        ok(NativeCore.sev_temporal_conv3_ndhwc_backward_data_f32(dyl.address(), w.address(),
                                dxl.address(), n, c, t, sp), who);
                        ok(NativeCore.sev_temporal_conv3_ndhwc_backward_weight_f32(xl.address(), dyl.address(),
                                dwl.address(), n, c, t, sp), who);
                    }
                    Tensor yb = nan(x.size());
                    Tensor dxb = nan(x.size());
                    ok(NativeCore.sev_ndhwc_to_ncdhw(yl.address(), yb.address(), n, c, tsp), "y to NCDHW");
                    ok(NativeCore.sev_ndhwc_to_ncdhw(dxl.address(), dxb.address(), n, c, tsp), "dx to NCDHW");
                    assertFp32(y, yb, "forward vs sev_conv3d_forward, " + who);
                    assertFp32(dx, dxb, "backward data vs sev_conv3d_backward_data, " + who);
                    assertFp32(dw, dwl, "backward weight vs sev_conv3d_backward_weight, " + who);
                }
            }
        }
    }

    @Test
    void transposesAreExactInverses() {
        Random r = new Random(32);
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = randn(r, 2, 7, 3, 5, 4);
            Tensor l = nan(2, 60, 7);
            Tensor back = nan(x.size());
            ok(NativeCore.sev_ncdhw_to_ndhwc(x.address(), l.address(), 2, 7, 60), "to NDHWC");
            // element (n=1, c=4, s=13) of [N, C, S] sits at (n, s, c) of [N, S, C]
            assertEquals(x.getFloat((1 * 7 + 4) * 60 + 13), l.getFloat((1 * 60 + 13) * 7 + 4));
            ok(NativeCore.sev_ndhwc_to_ncdhw(l.address(), back.address(), 2, 7, 60), "to NCDHW");
            KernelTestSupport.assertBitwise(x, back, "round trip");
        }
    }

    // ---- arguments ----

    /** Each host driver with sizes and pointers its kernel's launcher must refuse: SEV_EINVAL and the reason. */
    @Test
    void badArgumentsAreErrorsWithAMessage() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = nan(4096);
            Tensor b = nan(4096);
            Tensor o = nan(4096);
            long pa = a.address(), pb = b.address(), po = o.address();
            // n, c, t, s, the reason expected
            Object[][] bad = {{-1, 4, 2, 3L, "negative size"}, {1, -4, 2, 3L, "negative size"},
                {1, 4, -2, 3L, "negative size"}, {1, 4, 2, -3L, "negative size"},
                {65536, 4, 2, 3L, "65535 items"}, {1, 65535 * 64 + 1, 1, 1L, "channels"},
                {1, 4, 1 << 20, 1L << 20, "T*H*W"}, {1, 4, 2, 1L << 40, "T*H*W"}};
            for (Object[] c : bad) {
                int n = (Integer) c[0], ch = (Integer) c[1], t = (Integer) c[2];
                long s = (Long) c[3];
                String why = (String) c[4];
                expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_f32(pa, pb, po, n, ch, t, s),
                        "temporal_conv3_ndhwc_forward_f32", why);
                expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_bf16(pa, pb, po, n, ch, t, s),
                        "temporal_conv3_ndhwc_forward_bf16", why);
                expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_data_f32(pa, pb, po, n, ch, t, s),
                        "temporal_conv3_ndhwc_backward_data_f32", why);
                expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_data_bf16(pa, pb, po, n, ch, t, s),
                        "temporal_conv3_ndhwc_backward_data_bf16", why);
                expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_f32(pa, pb, po, n, ch, t, s),
                        "temporal_conv3_ndhwc_backward_weight_f32", why);
                expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_bf16(pa, pb, po, n, ch, t, s),
                        "temporal_conv3_ndhwc_backward_weight_bf16", why);
            }
            // a NULL pointer the call would read or write
            for (int which = 0; which < 3; which++) {
                long x = which == 0 ? 0 : pa, w = which == 1 ? 0 : pb, y = which == 2 ? 0 : po;
                expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_f32(x, w, y, 1, 4, 2, 3),
                        "temporal_conv3_ndhwc_forward_f32", "NULL");
                expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_data_bf16(x, w, y, 1, 4, 2, 3),
                        "temporal_conv3_ndhwc_backward_data_bf16", "NULL");
                expectError(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_f32(x, w, y, 1, 4, 2, 3),
                        "temporal_conv3_ndhwc_backward_weight_f32", "NULL");
            }
            // nothing to do: no pointer is touched
            ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_bf16(0, 0, 0, 0, 4, 2, 3), "N = 0");
            ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_data_f32(0, 0, 0, 2, 4, 0, 3), "T = 0");
            ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_bf16(0, 0, 0, 2, 0, 3, 3), "C = 0");
            // no positions: dw is the empty sum, zeros
            ok(NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_f32(0, 0, po, 0, 4, 2, 3), "dw, N = 0");
            for (int i = 0; i < 4 * 4 * 3; i++) {
                assertEquals(0f, o.getFloat(i), "dw of no positions at " + i);
            }
        }
    }

    static void expectError(int rc, String op, String reason) {
        assertEquals(-1, rc, op + " (" + reason + ") returned " + rc);
        String msg = NativeCore.sev_last_error();
        assertTrue(msg.contains(op) && msg.contains(reason), "message of " + op + ": '" + msg + "', wanted '" + reason
                + "'");
    }
}
