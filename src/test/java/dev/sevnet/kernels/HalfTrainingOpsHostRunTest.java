package dev.sevnet.kernels;

import static dev.sevnet.kernels.HalfOpsHostRunTest.assertSameBits;
import static dev.sevnet.kernels.HalfOpsHostRunTest.assertSameBitsNaNAsNaN;
import static dev.sevnet.kernels.HalfOpsHostRunTest.bits;
import static dev.sevnet.kernels.HalfOpsHostRunTest.code;
import static dev.sevnet.kernels.HalfOpsHostRunTest.specials;
import static dev.sevnet.kernels.KernelTestSupport.assertBitwise;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.params;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static dev.sevnet.kernels.KernelTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The 16-bit training glue's kernel bodies (the end of kernels/half_ops.cuh: ReLU backward, add, axpby, average pool
 * backward, channel split, squeeze-excite backward, batch norm eval; run on the host by {@code sev_hostrun_half_*})
 * against "widen the 16-bit inputs exactly, run the fp32 CPU op ({@code NativeCore.sev_*}), round each 16-bit output
 * once" computed here. Every 16-bit output is compared bit for bit: each body does the fp32 op's arithmetic in the
 * fp32 op's order (the average pool's gather sums in the CPU scatter's order; the products of axpby are rounded on
 * their own as the CPU, which has no FMA, rounds them), so there is nothing for the roundings to disagree on. The one
 * fp32 output that is a reduction, the squeeze-excite dg, is summed in double by the block tree, the CPU sequentially:
 * within 1e-6 of the CPU, and bit for bit the fp32 body's ({@code sev_hostrun_channel_scale_backward}) on the widened
 * inputs.
 *
 * <p>NaN and infinity: the inputs include every special value of {@link HalfOpsHostRunTest#specials()} (NaN,
 * +-infinity, subnormals, the fp16 range edge) where the op is element-wise. A NaN stays a NaN (quieted, as the
 * cast quiets it: both sides round through the same rule), fp16 sums beyond 65504 become +-infinity, inf - inf is
 * NaN; the ReLU mask of a NaN y is closed (dx = +0, as sev_relu_backward). The split is a bit copy: even a signalling
 * NaN pattern comes through unchanged.
 */
@ExtendWith(IeeeDenormals.class)
class HalfTrainingOpsHostRunTest {
    static final CpuBackend CPU = CpuBackend.get();

    /** Random values rounded to dt; {@code special} of them replaced by the special values, cycling. */
    static Tensor rand16(Random r, DType dt, double scale, boolean special, long... dims) {
        try (Tensor f = randn(r, scale, dims)) {
            if (special) {
                float[] sp = specials();
                ByteBuffer b = f.hostBuffer();
                long n = f.size();
                for (int i = 0; i < sp.length && 7L * i < n; i++) {
                    b.putFloat(4 * 7 * i, sp[i]);
                }
            }
            return CPU.cast(f, dt);
        }
    }

    static Tensor widen(Tensor t) {
        return CPU.cast(t, DType.FLOAT32);
    }

    static Tensor round(Tensor t, DType dt) {
        return CPU.cast(t, dt);
    }

    static Tensor empty16(Shape s, DType dt) {
        return Tensor.empty(s, dt);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void reluBackwardMasksWithTheStoredY(DType dt) {
        Random r = new Random(11);
        for (long[] dims : new long[][] {{1}, {7}, {3, 5, 17}, {2, 4, 3, 11, 13}}) {
            try (TensorScope scope = TensorScope.open()) {
                Tensor y = rand16(r, dt, 1, true, dims);
                Tensor dy = rand16(r, dt, 3, true, dims);
                Tensor dx = empty16(y.shape(), dt);
                ok(NativeCore.sev_hostrun_half_relu_backward(y.address(), dy.address(), dx.address(), y.size(),
                        code(dt)), "hostrun relu backward");
                Tensor yw = widen(y);
                Tensor dyw = widen(dy);
                Tensor ref = Tensor.empty(y.shape());
                ok(NativeCore.sev_relu_backward(yw.address(), dyw.address(), ref.address(), y.size()), "cpu");
                assertSameBits(round(ref, dt), dx, dt + " relu backward " + Arrays.toString(dims));
                // dx is dy's bits where y > 0 (a non-NaN dy passes exactly), +0 elsewhere (a NaN y closes the mask)
                short[] yb = bits(y);
                short[] db = bits(dy);
                short[] xb = bits(dx);
                float[] yf = yw.toFloatArray();
                float[] df = dyw.toFloatArray();
                for (int i = 0; i < yb.length; i++) {
                    if (!(yf[i] > 0)) {
                        assertEquals(0, xb[i], "closed mask -> +0 at " + i);
                    } else if (!Float.isNaN(df[i])) {
                        assertEquals(db[i], xb[i], "dy passes at " + i);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void addRoundsTheSumOnce(DType dt) {
        Random r = new Random(12);
        for (long[] dims : new long[][] {{1}, {5, 9}, {2, 3, 4, 7, 5}}) {
            try (TensorScope scope = TensorScope.open()) {
                Tensor a = rand16(r, dt, 2, true, dims);
                Tensor b = rand16(r, dt, 2, false, dims);
                Tensor y = empty16(a.shape(), dt);
                // the 16-bit add is the add+ReLU body with relu = 0 (sevc_half_add_act)
                ok(NativeCore.sev_hostrun_half_add_act(a.address(), b.address(), y.address(), a.size(), 0, code(dt)),
                        "hostrun add");
                Tensor ref = Tensor.empty(a.shape());
                ok(NativeCore.sev_add(widen(a).address(), widen(b).address(), ref.address(), a.size()), "cpu add");
                assertSameBits(round(ref, dt), y, dt + " add " + Arrays.toString(dims));
            }
        }
        // overflow and inf - inf
        try (TensorScope scope = TensorScope.open()) {
            float big = dt == DType.FLOAT16 ? 65504f : 3e38f;
            Tensor a = round(Tensor.of(new float[] {big, Float.POSITIVE_INFINITY, 1f}, 3), dt);
            Tensor b = round(Tensor.of(new float[] {big, Float.NEGATIVE_INFINITY, Float.NaN}, 3), dt);
            Tensor y = empty16(a.shape(), dt);
            ok(NativeCore.sev_hostrun_half_add_act(a.address(), b.address(), y.address(), 3, 0, code(dt)), "add");
            float[] v = widen(y).toFloatArray();
            assertEquals(Float.POSITIVE_INFINITY, v[0], "overflow is +inf");
            assertTrue(Float.isNaN(v[1]) && Float.isNaN(v[2]), "inf - inf and x + NaN are NaN");
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void axpbyAccumulatesInPlaceAsTheFp32Op(DType dt) {
        Random r = new Random(13);
        float[][] coeffs = {{1f, 1f}, {0.5f, 0.9f}, {-1.25f, 0.1f}, {3f, 0f}, {1f, -1f}, {0.1f, 1f}};
        for (long[] dims : new long[][] {{1}, {13}, {4, 3, 2, 9, 7}}) {
            for (float[] ab : coeffs) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = rand16(r, dt, 1.5, true, dims);
                    Tensor y = rand16(r, dt, 1.5, false, dims);
                    if (ab[1] == 0f) {
                        // beta 0: y is not read, so garbage (NaN) there does not matter
                        ByteBuffer b = y.hostBuffer();
                        for (int i = 0; i < b.capacity(); i++) {
                            b.put(i, (byte) 0xff);
                        }
                    }
                    Tensor ref = widen(y);
                    ok(NativeCore.sev_axpby(ab[0], widen(x).address(), ab[1], ref.address(), x.size()), "cpu axpby");
                    ok(NativeCore.sev_hostrun_half_axpby(ab[0], x.address(), ab[1], y.address(), x.size(), code(dt)),
                            "hostrun axpby");
                    assertSameBits(round(ref, dt), y, dt + " axpby " + Arrays.toString(ab) + " " + Arrays.toString(dims));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void avgPoolBackwardGathersInTheCpuOrder(DType dt) {
        Random r = new Random(14);
        // the SEV shortcut's (1,3,3)/(1,2,2)/(0,1,1) on ragged planes, a 3x3x3 window, a 2x2x2 stride-2 window
        int[][][] cases = {{{2, 5, 3, 11, 13}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
            {{1, 3, 2, 8, 8}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}}, {{1, 2, 4, 5, 5}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}},
            {{2, 3, 4, 6, 7}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}}, {{1, 1, 1, 1, 1}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}}};
        for (int[][] cs : cases) {
            int[] d = cs[0];
            int[] p = params(d[0], d[1], d[2], d[3], d[4], cs[1], cs[2], cs[3]);
            long to = p[16];
            long ho = p[17];
            long wo = p[18];
            try (TensorScope scope = TensorScope.open()) {
                Tensor dy = rand16(r, dt, 2, true, d[0], d[1], to, ho, wo);
                Tensor ref = Tensor.empty(Shape.of(d[0], d[1], d[2], d[3], d[4]));
                ok(NativeCore.sev_avgpool3d_backward(widen(dy).address(), ref.address(), p), "cpu");
                Tensor dx = empty16(ref.shape(), dt);
                ok(NativeCore.sev_hostrun_half_avgpool3d_backward(dy.address(), dx.address(), p, code(dt)), "hostrun");
                assertSameBitsNaNAsNaN(round(ref, dt), dx, dt + " avgpool backward " + Arrays.deepToString(cs));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void splitIsABitCopy(DType dt) {
        Random r = new Random(15);
        long[][] cases = {{2, 3, 5, 7}, {1, 1, 1, 1}, {3, 8, 8, 10}};
        for (long[] c : cases) {
            long n = c[0];
            long ca = c[1];
            long cb = c[2];
            long s = c[3];
            try (TensorScope scope = TensorScope.open()) {
                // every 16-bit pattern may come (signalling NaNs too): the split copies bits
                Tensor y = Tensor.empty(Shape.of(n, ca + cb, s), dt);
                ByteBuffer yb = y.hostBuffer();
                for (int i = 0; i < y.size(); i++) {
                    yb.putShort(2 * i, (short) r.nextInt());
                }
                Tensor a = empty16(Shape.of(n, ca, s), dt);
                Tensor b = empty16(Shape.of(n, cb, s), dt);
                ok(NativeCore.sev_hostrun_half_split_channels(y.address(), a.address(), b.address(), n, ca, cb, s),
                        "hostrun split");
                short[] all = bits(y);
                short[] as = bits(a);
                short[] bs = bits(b);
                for (int i = 0; i < all.length; i++) {
                    long item = i / ((ca + cb) * s);
                    long rest = i % ((ca + cb) * s);
                    short got = rest < ca * s ? as[(int) (item * ca * s + rest)] : bs[(int) (item * cb * s + rest - ca * s)];
                    assertEquals(all[i], got, "element " + i);
                }
                // and, on values, the fp32 split of the widened tensor
                Tensor yv = rand16(r, dt, 1, false, n, ca + cb, s);
                Tensor ra = Tensor.empty(Shape.of(n, ca, s));
                Tensor rb = Tensor.empty(Shape.of(n, cb, s));
                ok(NativeCore.sev_split_channels(widen(yv).address(), ra.address(), rb.address(), n, ca, cb, s), "cpu");
                ok(NativeCore.sev_hostrun_half_split_channels(yv.address(), a.address(), b.address(), n, ca, cb, s),
                        "hostrun split");
                assertSameBits(round(ra, dt), a, "split a");
                assertSameBits(round(rb, dt), b, "split b");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void channelScaleBackwardMatchesTheFp32Op(DType dt) {
        Random r = new Random(16);
        // S below, at and above the 256-thread block, ragged; SEVNet's SE widths at a small plane
        long[][] cases = {{2, 3, 1}, {1, 5, 255}, {2, 4, 256}, {3, 2, 1001}, {2, 64, 4 * 7 * 7}, {1, 256, 2 * 3 * 3}};
        for (long[] c : cases) {
            long n = c[0];
            long ch = c[1];
            long s = c[2];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = rand16(r, dt, 1, false, n, ch, s);
                Tensor dy = rand16(r, dt, 1, false, n, ch, s);
                Tensor g = uniform(r, 0, 1, n, ch);
                Tensor dx = empty16(x.shape(), dt);
                Tensor dg = KernelTestSupport.nan(n, ch);
                ok(NativeCore.sev_hostrun_half_channel_scale_backward(x.address(), g.address(), dy.address(),
                        dx.address(), dg.address(), n, ch, s, code(dt)), "hostrun");
                Tensor xw = widen(x);
                Tensor dyw = widen(dy);
                Tensor rdx = Tensor.empty(x.shape());
                Tensor rdg = KernelTestSupport.nan(n, ch);
                ok(NativeCore.sev_channel_scale_backward(xw.address(), g.address(), dyw.address(), rdx.address(),
                        rdg.address(), n, ch, s), "cpu");
                String what = dt + " channel scale backward " + Arrays.toString(c);
                assertSameBits(round(rdx, dt), dx, what + " dx");
                KernelTestSupport.assertClose(rdg, dg, 1e-6, 1e-6, what + " dg");
                // dg: the fp32 body's block tree on the widened inputs, bit for bit
                Tensor fdx = Tensor.empty(x.shape());
                Tensor fdg = KernelTestSupport.nan(n, ch);
                ok(NativeCore.sev_hostrun_channel_scale_backward(xw.address(), g.address(), dyw.address(),
                        fdx.address(), fdg.address(), n, ch, s), "hostrun fp32");
                assertBitwise(fdg, dg, what + " dg vs the fp32 body");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void batchNormEvalMatchesTheFp32Op(DType dt) {
        Random r = new Random(17);
        long[][] cases = {{2, 3, 1}, {1, 5, 77}, {2, 64, 4 * 7 * 7}};
        for (long[] c : cases) {
            long n = c[0];
            long ch = c[1];
            long s = c[2];
            for (int mode = 0; mode < 4; mode++) {
                boolean affine = mode < 2;
                int relu = mode % 2;
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = rand16(r, dt, 2, true, n, ch, s);
                    Tensor gamma = affine ? uniform(r, 0.5, 1.5, ch) : null;
                    Tensor beta = affine ? randn(r, 0.2, ch) : null;
                    Tensor rm = randn(r, 0.3, ch);
                    Tensor rv = uniform(r, 0.5, 2, ch);
                    long ga = gamma == null ? 0L : gamma.address();
                    long ba = beta == null ? 0L : beta.address();
                    Tensor ref = Tensor.empty(x.shape());
                    ok(NativeCore.sev_batchnorm_eval_forward(widen(x).address(), ga, ba, rm.address(), rv.address(),
                            ref.address(), n, ch, s, 1e-5f, relu), "cpu");
                    Tensor y = empty16(x.shape(), dt);
                    ok(NativeCore.sev_hostrun_half_batchnorm_eval_forward(x.address(), ga, ba, rm.address(),
                            rv.address(), y.address(), n, ch, s, 1e-5f, relu, code(dt)), "hostrun");
                    assertSameBits(round(ref, dt), y, dt + " bn eval affine=" + affine + " relu=" + relu + " "
                            + Arrays.toString(c));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void badDtypeCodesAreRefused(DType dt) {
        for (int bad : new int[] {0, 3, -1}) {
            assertNotEquals(0, NativeCore.sev_hostrun_half_relu_backward(0L, 0L, 0L, 0, bad));
            assertNotEquals(0, NativeCore.sev_hostrun_half_axpby(1f, 0L, 1f, 0L, 0, bad));
            assertNotEquals(0, NativeCore.sev_hostrun_half_avgpool3d_backward(0L, 0L,
                    params(0, 0, 0, 0, 0, new int[] {1, 1, 1}, new int[] {1, 1, 1}, new int[] {0, 0, 0}), bad));
            assertNotEquals(0, NativeCore.sev_hostrun_half_channel_scale_backward(0L, 0L, 0L, 0L, 0L, 0, 0, 0, bad));
            assertNotEquals(0, NativeCore.sev_hostrun_half_batchnorm_eval_forward(0L, 0L, 0L, 0L, 0L, 0L, 0, 0, 0, 1e-5f,
                    0, bad));
        }
        assertEquals(0, NativeCore.sev_hostrun_half_relu_backward(0L, 0L, 0L, 0, code(dt)), "nothing to do");
        // the Java rounding the reference uses is the kernels' (HalfOpsHostRunTest checks every pattern)
        assertEquals(Half.floatToBf16(1f), (short) 0x3f80);
    }
}
