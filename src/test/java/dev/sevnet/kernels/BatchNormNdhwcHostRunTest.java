package dev.sevnet.kernels;

import static dev.sevnet.kernels.BatchNormHalfHostRunTest.assertRoundedOnce;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.assertStat;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.assertWithinUlp;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.backwardSlack;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.bits;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.forwardSlack;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.nan16;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.randn16;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.setBits;
import static dev.sevnet.kernels.KernelTestSupport.assertClose;
import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static dev.sevnet.kernels.KernelTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.kernels.BatchNormHalfHostRunTest.Fmt;
import dev.sevnet.kernels.BatchNormHalfHostRunTest.Fwd;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The channels-last batch-norm kernels' bodies (kernels/batchnorm_ndhwc.cuh: (channel tile, split) blocks of 32
 * channels x 8 row lanes, the column trees and the finalize in the device's order) run on the host
 * ({@code sev_hostrun_*_ndhwc_*}) against the CPU references {@code sev_*_ndhwc_*}, which transpose [M][C] to
 * [1][C][M], run the NCDHW references and transpose back — independent of the kernel bodies and of their order of
 * summation. fp32, bf16, fp16; with and without residual and ReLU; ragged shapes (C = 1, 3, 33, 70: partial channel
 * tiles; M = 2, 5, 7: fewer rows than row lanes; long columns with many splits; C = 2080 where the split count is
 * capped) and SEVNet-G8's BN widths (32 ... 512) at batch 2 on small planes.
 *
 * <p>Tolerances, and why (the 16-bit argument is BatchNormHalfHostRunTest's, whose helpers these are). Statistics:
 * both sides sum in double, the kernel (x, x^2) by blocks with E[x^2] - mean^2, the reference x then (x - mean)^2:
 * both exact to ~1e-15 relative here, so the fp32 save_mean, save_invstd, running estimates agree but where the
 * double lies that close to an fp32 rounding boundary: asserted within 4e-7 relative (a few fp32 ulps), measured
 * and printed. y and dx: both sides evaluate the same fp32 expression (x*a + b (+ r), ReLU; k (g - mdy - xhat
 * mdyx)) but the kernel forms its coefficients from the saved fp32 statistics and the reference from its double
 * ones, so they may differ in their last fp32 bit: the fp32 results differ by a few fp32 ulps of the terms summed;
 * asserted |error| <= 2^-20 (8 fp32 ulps, ~1e-6) of the sum of the terms' magnitudes — a relative 1e-6 bound where
 * nothing cancels, and the right bound where the terms cancel to near zero. 16-bit y and dx are that fp32 value
 * rounded once: within one 16-bit ulp of the reference plus the same slack, and at least 99% of the values the
 * fp32 sums determine are bit-identical. dgamma, dbeta: double sums in two orders rounded to fp32, 1e-5 as the NCDHW
 * tests. dresidual (the masked dy) bit for bit. Eval has no sums and the same coefficients: bit for bit on the host
 * (the device contracts x*a + b into an FMA: within an fp32 ulp of the terms, the GPU test's bound).
 *
 * <p>Stronger, bit for bit: the 16-bit bodies on 16-bit inputs are the fp32 body on the widened inputs with y /
 * dx rounded once, statistics and parameter gradients bit-identical.
 */
@ExtendWith(IeeeDenormals.class)
public class BatchNormNdhwcHostRunTest {
    static final float EPS = 1e-5f;
    static final float MOMENTUM = 0.1f;
    static final double STAT_RTOL = 4e-7;

    // M, C: ragged (two rows; M below the 8 row lanes; C = 1 and 3 of a 32-channel tile, 33 and 70 a partial last
    // tile; long columns of many splits; C = 260 in fp32: 65 groups of 4, whose grid the 16-byte passes would round
    // up 65-fold at M = 2, so the scalar passes take it), then SEVNet-G8's BN widths at batch 2, T*H*W = 2*9*9,
    // 4*7*7, 4*5*5, 2*4*4, 2*3*3, and the 64-channel stage at 4 frames of 28^2 (49 splits)
    static final long[][] RAGGED = {{2, 3}, {5, 3}, {7, 33}, {5, 70}, {7, 1}, {1001, 33}, {4099, 70}, {20001, 3},
        {2, 260}};
    static final long[][] G8 = {{2 * 162, 32}, {2 * 196, 64}, {2 * 100, 128}, {2 * 32, 256}, {2 * 18, 512},
        {2 * 4 * 28 * 28, 64}};
    // 65 channel tiles: the split count is capped at 2048 / 65 = 31 (< ceil(4001 / 128) = 32); one variant
    static final long[] CAPPED = {4001, 2080};

    static long[][] allShapes() {
        long[][] all = Arrays.copyOf(RAGGED, RAGGED.length + G8.length);
        System.arraycopy(G8, 0, all, RAGGED.length, G8.length);
        return all;
    }

    /** fp32 and the two 16-bit formats, with their native entry points. */
    public enum Kind {
        F32(null), BF16(Fmt.BF16), F16(Fmt.F16);

        public final Fmt half;

        Kind(Fmt half) {
            this.half = half;
        }

        public Tensor randn(Random r, double offset, double scale, long m, long c) {
            if (half != null) {
                return randn16(half, r, offset, scale, m, c);
            }
            float[] v = new float[Math.toIntExact(m * c)];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (offset + scale * r.nextGaussian());
            }
            return Tensor.of(v, Shape.of(m, c));
        }

        public Tensor nans(long m, long c) {
            return half != null ? nan16(half, m, c) : nan(m, c);
        }

        public int forward(boolean hostrun, long x, long res, long g, long b, long y, long mean, long invstd, long rm,
                long rv, long m, long c, int relu) {
            return switch (this) {
                case F32 -> hostrun
                        ? NativeCore.sev_hostrun_bn_act_train_forward_ndhwc_f32(x, res, g, b, y, mean, invstd, rm, rv,
                                m, c, EPS, MOMENTUM, relu)
                        : NativeCore.sev_bn_act_train_forward_ndhwc_f32(x, res, g, b, y, mean, invstd, rm, rv, m, c,
                                EPS, MOMENTUM, relu);
                case BF16 -> hostrun
                        ? NativeCore.sev_hostrun_bn_act_train_forward_ndhwc_bf16(x, res, g, b, y, mean, invstd, rm, rv,
                                m, c, EPS, MOMENTUM, relu)
                        : NativeCore.sev_bn_act_train_forward_ndhwc_bf16(x, res, g, b, y, mean, invstd, rm, rv, m, c,
                                EPS, MOMENTUM, relu);
                case F16 -> hostrun
                        ? NativeCore.sev_hostrun_bn_act_train_forward_ndhwc_f16(x, res, g, b, y, mean, invstd, rm, rv,
                                m, c, EPS, MOMENTUM, relu)
                        : NativeCore.sev_bn_act_train_forward_ndhwc_f16(x, res, g, b, y, mean, invstd, rm, rv, m, c,
                                EPS, MOMENTUM, relu);
            };
        }

        public int backward(boolean hostrun, long x, long y, long dy, long g, long mean, long invstd, long dx,
                long dg, long db, long dres, long m, long c) {
            return switch (this) {
                case F32 -> hostrun
                        ? NativeCore.sev_hostrun_bn_act_backward_ndhwc_f32(x, y, dy, g, mean, invstd, dx, dg, db, dres,
                                m, c)
                        : NativeCore.sev_bn_act_backward_ndhwc_f32(x, y, dy, g, mean, invstd, dx, dg, db, dres, m, c);
                case BF16 -> hostrun
                        ? NativeCore.sev_hostrun_bn_act_backward_ndhwc_bf16(x, y, dy, g, mean, invstd, dx, dg, db, dres,
                                m, c)
                        : NativeCore.sev_bn_act_backward_ndhwc_bf16(x, y, dy, g, mean, invstd, dx, dg, db, dres, m, c);
                case F16 -> hostrun
                        ? NativeCore.sev_hostrun_bn_act_backward_ndhwc_f16(x, y, dy, g, mean, invstd, dx, dg, db, dres,
                                m, c)
                        : NativeCore.sev_bn_act_backward_ndhwc_f16(x, y, dy, g, mean, invstd, dx, dg, db, dres, m, c);
            };
        }

        /** The backward of relu(bn(x)) with the mask recomputed from x: host drivers only (the reference is the y form). */
        public int reluBackwardFromX(long x, long dy, long g, long b, long mean, long invstd, long dx, long dg, long db,
                long m, long c) {
            return switch (this) {
                case F32 -> NativeCore.sev_hostrun_bn_relu_backward_ndhwc_f32(x, dy, g, b, mean, invstd, dx, dg, db, m,
                        c);
                case BF16 -> NativeCore.sev_hostrun_bn_relu_backward_ndhwc_bf16(x, dy, g, b, mean, invstd, dx, dg, db,
                        m, c);
                case F16 -> NativeCore.sev_hostrun_bn_relu_backward_ndhwc_f16(x, dy, g, b, mean, invstd, dx, dg, db, m,
                        c);
            };
        }

        public int eval(boolean hostrun, long x, long g, long b, long rm, long rv, long y, long m, long c, int relu) {
            return switch (this) {
                case F32 -> hostrun
                        ? NativeCore.sev_hostrun_batchnorm_eval_ndhwc_f32(x, g, b, rm, rv, y, m, c, EPS, relu)
                        : NativeCore.sev_batchnorm_eval_ndhwc_f32(x, g, b, rm, rv, y, m, c, EPS, relu);
                case BF16 -> hostrun
                        ? NativeCore.sev_hostrun_batchnorm_eval_ndhwc_bf16(x, g, b, rm, rv, y, m, c, EPS, relu)
                        : NativeCore.sev_batchnorm_eval_ndhwc_bf16(x, g, b, rm, rv, y, m, c, EPS, relu);
                case F16 -> hostrun
                        ? NativeCore.sev_hostrun_batchnorm_eval_ndhwc_f16(x, g, b, rm, rv, y, m, c, EPS, relu)
                        : NativeCore.sev_batchnorm_eval_ndhwc_f16(x, g, b, rm, rv, y, m, c, EPS, relu);
            };
        }
    }

    // ---- measured figures, printed once ----
    static final long[][] EQUAL = new long[3][2];  // [kind][y, dx]: bit-identical to the reference
    static final long[][] TOTAL = new long[3][2];
    static final double[] WORST = new double[1];  // fp32: the largest error / slack

    @AfterAll
    static void report() {
        for (Kind k : Kind.values()) {
            for (int j = 0; j < 2; j++) {
                long t = TOTAL[k.ordinal()][j];
                if (t > 0) {
                    System.out.printf("BatchNormNdhwcHostRunTest: %s %s: %d of %d bit-identical to the reference"
                            + " (%.4f%%)%n", k, j == 0 ? "y" : "dx", EQUAL[k.ordinal()][j], t,
                            100.0 * EQUAL[k.ordinal()][j] / t);
                }
            }
        }
        System.out.printf("BatchNormNdhwcHostRunTest: fp32 y/dx worst error %.3f of the 2^-20 slack%n", WORST[0]);
    }

    /** fp32: |expected - actual| <= slack[i] (or the same bits); returns the number of bit-identical elements. */
    public static long assertFp32WithinSlack(Tensor expected, Tensor actual, double[] slack, String what) {
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        long equal = 0;
        for (int i = 0; i < e.length; i++) {
            if (Float.floatToRawIntBits(e[i]) == Float.floatToRawIntBits(a[i]) || (e[i] == a[i])) {
                equal++;
                continue;
            }
            double err = Math.abs((double) e[i] - a[i]);
            if (!(err <= slack[i])) {
                fail(what + "[" + i + "]: expected " + e[i] + ", got " + a[i] + " (error " + err + " > slack "
                        + slack[i] + ")");
            }
            WORST[0] = Math.max(WORST[0], err / slack[i]);
        }
        return equal;
    }

    /** y (or dx) against the reference with the kind's tolerance; returns the number of bit-identical elements. */
    public static long assertResult(Kind k, Tensor expected, Tensor actual, double[] slack, String what) {
        return k.half == null ? assertFp32WithinSlack(expected, actual, slack, what)
                : assertWithinUlp(k.half, expected, actual, slack, what);
    }

    static Fwd runForward(Kind k, boolean hostrun, Tensor x, Tensor res, Tensor gamma, Tensor beta, Tensor rm0,
            Tensor rv0, long m, long c, boolean relu) {
        Fwd o = Fwd.fresh(k.half, rm0, rv0, m, c, 1);
        ok(k.forward(hostrun, x.address(), res == null ? 0L : res.address(), gamma.address(), beta.address(),
                o.y().address(), o.mean().address(), o.invstd().address(), o.rm().address(), o.rv().address(), m, c,
                relu ? 1 : 0), (hostrun ? "hostrun " : "reference ") + k);
        return o;
    }

    static void forwardCase(Kind k, Random r, long m, long c, boolean relu, boolean residual) {
        String what = " " + k + " [" + m + ", " + c + "] relu=" + relu + " residual=" + residual;
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = k.randn(r, 3.0, 2.0, m, c);
            Tensor res = residual ? k.randn(r, 0.0, 1.0, m, c) : null;
            Tensor gamma = randn(r, c);
            Tensor beta = randn(r, c);
            Tensor rm0 = randn(r, c);
            Tensor rv0 = uniform(r, 0.5, 1.5, c);
            Fwd ref = runForward(k, false, x, res, gamma, beta, rm0, rv0, m, c, relu);
            Fwd got = runForward(k, true, x, res, gamma, beta, rm0, rv0, m, c, relu);
            assertStat(ref.mean(), got.mean(), "save_mean" + what);
            assertStat(ref.invstd(), got.invstd(), "save_invstd" + what);
            assertStat(ref.rm(), got.rm(), "running_mean" + what);
            assertStat(ref.rv(), got.rv(), "running_var" + what);
            // channel of element i: i % C (forwardSlack's (i / s) % c with n = M, s = 1)
            EQUAL[k.ordinal()][0] += assertResult(k, ref.y(), got.y(), forwardSlack(x, res, gamma, beta, ref, m, c, 1),
                    "y" + what);
            TOTAL[k.ordinal()][0] += x.size();
            if (k.half != null) {
                // the fp32 body on the widened inputs, y rounded once: the same bits
                Fwd f32 = runForward(Kind.F32, true, x.toFloat32(), res == null ? null : res.toFloat32(), gamma, beta,
                        rm0, rv0, m, c, relu);
                assertRoundedOnce(k.half, f32.y(), got.y(), "y vs fp32 body" + what);
                KernelTestSupport.assertBitwise(f32.mean(), got.mean(), "save_mean vs fp32 body" + what);
                KernelTestSupport.assertBitwise(f32.invstd(), got.invstd(), "save_invstd vs fp32 body" + what);
                KernelTestSupport.assertBitwise(f32.rm(), got.rm(), "running_mean vs fp32 body" + what);
                KernelTestSupport.assertBitwise(f32.rv(), got.rv(), "running_var vs fp32 body" + what);
            }
        }
    }

    @Test
    void trainForwardMatchesTheNcdhwReferenceTransposed() {
        Random r = new Random(81);
        for (Kind k : Kind.values()) {
            for (long[] d : allShapes()) {
                for (int variant = 0; variant < 4; variant++) {
                    forwardCase(k, r, d[0], d[1], (variant & 1) != 0, (variant & 2) != 0);
                }
            }
            forwardCase(k, r, CAPPED[0], CAPPED[1], true, true);
        }
    }

    static void backwardCase(Kind k, Random r, long m, long c, boolean relu) {
        String what = " " + k + " [" + m + ", " + c + "] relu=" + relu;
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = k.randn(r, 0.5, 1.5, m, c);
            Tensor gamma = randn(r, c);
            Tensor beta = randn(r, c);
            // y and the saved statistics from the reference forward (BN + ReLU), as training has them
            Fwd fw = runForward(k, false, x, null, gamma, beta, randn(r, c), uniform(r, 0.5, 1.5, c), m, c, true);
            Tensor y = fw.y();
            int total = Math.toIntExact(m * c);
            if (k.half != null) {
                // the mask is the stored y > 0: +0, -0 and the smallest positive value of the format
                setBits(y, 0, (short) 0x0000);
                setBits(y, total / 3, (short) 0x8000);
                setBits(y, total / 2, (short) 0x0001);
            }
            Tensor dy = k.randn(r, 0.0, 1.0, m, c);
            long yAddr = relu ? y.address() : 0L;
            Tensor dxRef = k.nans(m, c), dresRef = k.nans(m, c), dgRef = nan(c), dbRef = nan(c);
            ok(k.backward(false, x.address(), yAddr, dy.address(), gamma.address(), fw.mean().address(),
                    fw.invstd().address(), dxRef.address(), dgRef.address(), dbRef.address(), dresRef.address(), m,
                    c), "reference" + what);
            Tensor dx = k.nans(m, c), dres = k.nans(m, c), dg = nan(c), db = nan(c);
            ok(k.backward(true, x.address(), yAddr, dy.address(), gamma.address(), fw.mean().address(),
                    fw.invstd().address(), dx.address(), dg.address(), db.address(), dres.address(), m, c),
                    "hostrun" + what);
            assertClose(dgRef, dg, 1e-5, 1e-5, "dgamma" + what);
            assertClose(dbRef, db, 1e-5, 1e-5, "dbeta" + what);
            EQUAL[k.ordinal()][1] += assertResult(k, dxRef, dx,
                    backwardSlack(x, dresRef, gamma, fw, dgRef, dbRef, m, c, 1), "dx" + what);
            TOTAL[k.ordinal()][1] += total;
            if (k.half != null) {
                assertArrayEquals(bits(dresRef), bits(dres), "dresidual" + what);
                if (relu) {
                    assertEquals(0, bits(dres)[0], "mask of y = +0" + what);
                    assertEquals(0, bits(dres)[total / 3], "mask of y = -0" + what);
                    assertEquals(bits(dy)[total / 2], bits(dres)[total / 2], "mask of the smallest y > 0" + what);
                } else {
                    assertArrayEquals(bits(dy), bits(dres), "no ReLU: dres = dy" + what);
                }
                // the fp32 body on the widened inputs: dx rounded once, dgamma, dbeta bit for bit
                Tensor dx32 = nan(m, c), dres32 = nan(m, c), dg32 = nan(c), db32 = nan(c);
                Tensor y32 = y.toFloat32();
                ok(NativeCore.sev_hostrun_bn_act_backward_ndhwc_f32(x.toFloat32().address(),
                        relu ? y32.address() : 0L, dy.toFloat32().address(), gamma.address(), fw.mean().address(),
                        fw.invstd().address(), dx32.address(), dg32.address(), db32.address(), dres32.address(), m,
                        c), "hostrun fp32" + what);
                assertRoundedOnce(k.half, dx32, dx, "dx vs fp32 body" + what);
                assertRoundedOnce(k.half, dres32, dres, "dresidual vs fp32 body" + what);
                KernelTestSupport.assertBitwise(dg32, dg, "dgamma vs fp32 body" + what);
                KernelTestSupport.assertBitwise(db32, db, "dbeta vs fp32 body" + what);
            } else {
                KernelTestSupport.assertBitwise(dresRef, dres, "dresidual" + what);
            }
            // no gamma, no parameter gradients, no residual
            ok(k.backward(false, x.address(), yAddr, dy.address(), 0L, fw.mean().address(), fw.invstd().address(),
                    dxRef.address(), 0L, 0L, 0L, m, c), "reference" + what);
            ok(k.backward(true, x.address(), yAddr, dy.address(), 0L, fw.mean().address(), fw.invstd().address(),
                    dx.address(), 0L, 0L, 0L, m, c), "hostrun" + what);
            Tensor ones = Tensor.full(Shape.of(c), 1f);
            assertResult(k, dxRef, dx, backwardSlack(x, dresRef, ones, fw, dgRef, dbRef, m, c, 1),
                    "dx (no gamma)" + what);
        }
    }

    @Test
    void backwardMatchesTheNcdhwReferenceTransposed() {
        Random r = new Random(82);
        for (Kind k : Kind.values()) {
            for (long[] d : allShapes()) {
                for (boolean relu : new boolean[] {true, false}) {
                    backwardCase(k, r, d[0], d[1], relu);
                }
            }
            backwardCase(k, r, CAPPED[0], CAPPED[1], true);
        }
    }

    /**
     * relu(bn(x)) without a residual, backward with the mask recomputed from x (sevc_bn_relu_backward_ndhwc_*) against
     * the y form on the forward's own y: dx, dgamma, dbeta bit for bit — the mask is the stored y's, its 16-bit
     * rounding included — with and without gamma / beta, on random data and on channels sitting on their mean (x * a
     * + b exactly 0 on the host, the ReLU's boundary), through the 16-byte and the scalar passes (one pointer one
     * element off a 16-byte boundary).
     */
    @Test
    void theReluMaskFromXIsTheStoredYsBitForBit() {
        Random r = new Random(84);
        for (Kind k : Kind.values()) {
            for (long[] d : allShapes()) {
                for (int variant = 0; variant < 6; variant++) {
                    reluFromXCase(k, r, d[0], d[1], variant);
                }
            }
        }
    }

    static void reluFromXCase(Kind k, Random r, long m, long c, int variant) {
        boolean onMean = variant % 2 == 1, affine = variant < 4, shifted = variant >= 4;
        String what = " " + k + " [" + m + ", " + c + "] variant " + variant;
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = onMean ? onTheMean(k, r, m, c) : k.randn(r, 0.3, 1.5, m, c);
            Tensor gamma = randn(r, c); // some negative
            Tensor beta = variant == 1 ? Tensor.zeros(Shape.of(c)) : randn(r, c);
            Fwd fw = Fwd.fresh(k.half, randn(r, c), uniform(r, 0.5, 1.5, c), m, c, 1);
            long g = affine ? gamma.address() : 0L, b = affine ? beta.address() : 0L;
            ok(k.forward(true, x.address(), 0L, g, b, fw.y().address(), fw.mean().address(), fw.invstd().address(),
                    fw.rm().address(), fw.rv().address(), m, c, 1), "forward" + what);
            Tensor dy = k.randn(r, 0.0, 1.0, m, c);
            Tensor dxY = k.nans(m, c), dgY = nan(c), dbY = nan(c);
            ok(k.backward(true, x.address(), fw.y().address(), dy.address(), g, fw.mean().address(),
                    fw.invstd().address(), dxY.address(), dgY.address(), dbY.address(), 0L, m, c), "y form" + what);
            Tensor dgX = nan(c), dbX = nan(c);
            Tensor dxX;
            if (shifted) {
                Shifted sx = Shifted.of(x), sdy = Shifted.of(dy), sdx = Shifted.nans(k, m, c);
                ok(k.reluBackwardFromX(sx.address(), sdy.address(), g, b, fw.mean().address(), fw.invstd().address(),
                        sdx.address(), dgX.address(), dbX.address(), m, c), "from x" + what);
                dxX = sdx.view(m, c);
            } else {
                dxX = k.nans(m, c);
                ok(k.reluBackwardFromX(x.address(), dy.address(), g, b, fw.mean().address(), fw.invstd().address(),
                        dxX.address(), dgX.address(), dbX.address(), m, c), "from x" + what);
            }
            assertSameBits(dxY, dxX, "dx" + what);
            KernelTestSupport.assertBitwise(dgY, dgX, "dgamma" + what);
            KernelTestSupport.assertBitwise(dbY, dbX, "dbeta" + what);
        }
    }

    // each channel: v = j/16 exactly on its mean (pairs v + 1/2, v - 1/2, the rest v; every value and sum exact in
    // every format), so x * a + b is 0 or the rounding error of mean * a for a third of the values
    public static Tensor onTheMean(Kind k, Random r, long m, long c) {
        float[] v = new float[Math.toIntExact(m * c)];
        for (long ch = 0; ch < c; ch++) {
            float mid = (r.nextInt(64) - 32) / 16f;
            for (long row = 0; row < m; row++) {
                int q = (int) (row % 4);
                boolean unpaired = q == 0 && row == m - 1;
                v[(int) (row * c + ch)] = q == 0 && !unpaired ? mid + 0.5f : q == 1 ? mid - 0.5f : mid;
            }
        }
        return k.half == null ? Tensor.of(v, Shape.of(m, c)) : BatchNormHalfHostRunTest.t16(k.half, v, m, c);
    }

    @Test
    void evalIsTheReferenceBitForBit() {
        Random r = new Random(83);
        List<long[]> shapes = new ArrayList<>(Arrays.asList(allShapes()));
        shapes.add(new long[] {1, 3});  // one row is fine with running statistics
        shapes.add(new long[] {1, 70});
        for (Kind k : Kind.values()) {
            for (long[] d : shapes) {
                long m = d[0], c = d[1];
                for (int variant = 0; variant < 4; variant++) {
                    boolean relu = (variant & 1) != 0, affine = (variant & 2) != 0;
                    String what = " " + k + " " + Arrays.toString(d) + " relu=" + relu + " affine=" + affine;
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor x = k.randn(r, 0.5, 2.0, m, c);
                        Tensor gamma = randn(r, c), beta = randn(r, c), rm = randn(r, c);
                        Tensor rv = uniform(r, 0.5, 1.5, c);
                        long g = affine ? gamma.address() : 0L, b = affine ? beta.address() : 0L;
                        Tensor ref = k.nans(m, c), got = k.nans(m, c);
                        ok(k.eval(false, x.address(), g, b, rm.address(), rv.address(), ref.address(), m, c,
                                relu ? 1 : 0), "reference" + what);
                        ok(k.eval(true, x.address(), g, b, rm.address(), rv.address(), got.address(), m, c,
                                relu ? 1 : 0), "hostrun" + what);
                        if (k.half != null) {
                            assertArrayEquals(bits(ref), bits(got), "y" + what);
                        } else {
                            KernelTestSupport.assertBitwise(ref, got, "y" + what);
                        }
                    }
                }
            }
        }
    }

    /**
     * A copy of t one element past a 16-byte boundary: its bytes at {@code address() + elementSize}, after a guard
     * element of 0xff bytes (NaN in every format) that nothing may write. {@code buf} may be moved to a device (the GPU
     * test): {@link #view} then reads a host copy of it.
     */
    public record Shifted(Tensor buf, long es) {
        public static Shifted of(Tensor t) {
            long es = t.dtype().byteSize();
            Tensor buf = Tensor.empty(Shape.of(t.size() + 1), t.dtype());
            ByteBuffer b = buf.hostBuffer();
            for (int i = 0; i < es; i++) {
                b.put(i, (byte) 0xff);
            }
            b.put((int) es, t.hostBuffer(), 0, Math.toIntExact(t.byteSize()));
            assertEquals(0, buf.address() % 16, "the buffer is 16-byte aligned");
            return new Shifted(buf, es);
        }

        public static Shifted nans(Kind k, long m, long c) {
            return of(k.nans(m, c));
        }

        public long address() {
            return buf.address() + es;
        }

        /** the view's bytes as a host tensor of shape [m, c]; the guard element before it checked untouched. */
        public Tensor view(long m, long c) {
            Tensor h = buf.device().isCpu() ? buf : buf.toHostCopy();
            ByteBuffer b = h.hostBuffer();
            for (int i = 0; i < es; i++) {
                assertEquals((byte) 0xff, b.get(i), "the element before the view was written");
            }
            Tensor out = Tensor.empty(Shape.of(m, c), buf.dtype());
            out.hostBuffer().put(0, b, (int) es, Math.toIntExact(out.byteSize()));
            return out;
        }

        /** this view on a device ({@code toDevice}), the same bytes at the same offset. */
        public Shifted moved(java.util.function.UnaryOperator<Tensor> toDevice) {
            return new Shifted(toDevice.apply(buf), es);
        }
    }

    public static void assertSameBits(Tensor expected, Tensor actual, String what) {
        assertEquals(expected.byteSize(), actual.byteSize(), what);
        int at = expected.hostBuffer().mismatch(actual.hostBuffer());
        if (at >= 0) {
            fail(what + ": byte " + at + " differs");
        }
    }

    /** C a multiple of 8 (the 16-bit group; 4 in fp32): one row lane's rows, a partial tile of groups, many splits,
     * the capped split count, and G8's widths. */
    public static List<long[]> sixteenByteShapes() {
        List<long[]> shapes = new ArrayList<>(List.of(new long[] {2, 8}, new long[] {7, 24}, new long[] {5, 264},
                new long[] {4099, 64}, new long[] {CAPPED[0], CAPPED[1]}));
        shapes.addAll(Arrays.asList(G8));
        return shapes;
    }

    /**
     * The 16-byte passes (aligned tensors, C a multiple of the 16-byte group) and the scalar passes (the same data one
     * element off alignment) are the same arithmetic in the same order: every output, statistics included, bit for
     * bit — so a mistake in either walk (a channel group skipped or visited twice, a coefficient of the wrong
     * channel) shows, whichever path a shape takes on the device. (A change of the order of summation within a column
     * does not always show: the statistics are compared after their double sums are rounded to fp32.)
     * CudaBatchNormNdhwcTest asks the same of the device's kernels.
     */
    @Test
    void theSixteenBytePassesAreTheScalarPassesBitForBit() {
        Random r = new Random(84);
        List<long[]> shapes = sixteenByteShapes();
        for (Kind k : Kind.values()) {
            for (long[] d : shapes) {
                long m = d[0], c = d[1];
                String what = " " + k + " " + Arrays.toString(d);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = k.randn(r, 0.5, 1.5, m, c), res = k.randn(r, 0.0, 1.0, m, c);
                    Tensor gamma = randn(r, c), beta = randn(r, c), rm0 = randn(r, c);
                    Tensor rv0 = uniform(r, 0.5, 1.5, c);
                    Shifted xs = Shifted.of(x), ress = Shifted.of(res);
                    assertEquals(0, x.address() % 16, "the 16-byte passes' run is aligned" + what);
                    // training forward with residual and ReLU
                    Fwd vec = runForward(k, true, x, res, gamma, beta, rm0, rv0, m, c, true);
                    Fwd sc = Fwd.fresh(k.half, rm0, rv0, m, c, 1);
                    Shifted ys = Shifted.nans(k, m, c);
                    ok(k.forward(true, xs.address(), ress.address(), gamma.address(), beta.address(), ys.address(),
                            sc.mean().address(), sc.invstd().address(), sc.rm().address(), sc.rv().address(), m, c, 1),
                            "scalar forward" + what);
                    assertSameBits(vec.y(), ys.view(m, c), "y" + what);
                    assertSameBits(vec.mean(), sc.mean(), "save_mean" + what);
                    assertSameBits(vec.invstd(), sc.invstd(), "save_invstd" + what);
                    assertSameBits(vec.rm(), sc.rm(), "running_mean" + what);
                    assertSameBits(vec.rv(), sc.rv(), "running_var" + what);
                    // backward through the ReLU, with dresidual
                    Tensor dy = k.randn(r, 0.0, 1.0, m, c);
                    Shifted vys = Shifted.of(vec.y()), dys = Shifted.of(dy);
                    Tensor dx = k.nans(m, c), dres = k.nans(m, c), dg = nan(c), db = nan(c);
                    ok(k.backward(true, x.address(), vec.y().address(), dy.address(), gamma.address(),
                            vec.mean().address(), vec.invstd().address(), dx.address(), dg.address(), db.address(),
                            dres.address(), m, c), "16-byte backward" + what);
                    Shifted dxs = Shifted.nans(k, m, c), dress = Shifted.nans(k, m, c);
                    Tensor dgs = nan(c), dbs = nan(c);
                    ok(k.backward(true, xs.address(), vys.address(), dys.address(), gamma.address(),
                            vec.mean().address(), vec.invstd().address(), dxs.address(), dgs.address(), dbs.address(),
                            dress.address(), m, c), "scalar backward" + what);
                    assertSameBits(dx, dxs.view(m, c), "dx" + what);
                    assertSameBits(dres, dress.view(m, c), "dresidual" + what);
                    assertSameBits(dg, dgs, "dgamma" + what);
                    assertSameBits(db, dbs, "dbeta" + what);
                    // eval
                    Tensor ye = k.nans(m, c);
                    Shifted yes = Shifted.nans(k, m, c);
                    ok(k.eval(true, x.address(), gamma.address(), beta.address(), rm0.address(), rv0.address(),
                            ye.address(), m, c, 1), "16-byte eval" + what);
                    ok(k.eval(true, xs.address(), gamma.address(), beta.address(), rm0.address(), rv0.address(),
                            yes.address(), m, c, 1), "scalar eval" + what);
                    assertSameBits(ye, yes.view(m, c), "eval y" + what);
                }
            }
        }
    }

    @Test
    void badSizesAreErrors() {
        try (TensorScope scope = TensorScope.open()) {
            long p = nan(64).address();
            long[][] bad = {{0, 4}, {-1, 4}, {4, 0}, {4, -3}, {0, 0}};
            for (Kind k : Kind.values()) {
                for (boolean hostrun : new boolean[] {false, true}) {
                    for (long[] d : bad) {
                        String what = k + " hostrun=" + hostrun + " " + Arrays.toString(d);
                        assertNotEquals(0, k.forward(hostrun, p, 0L, p, p, p, p, p, 0L, 0L, d[0], d[1], 0),
                                "forward " + what);
                        assertNotEquals(0, k.backward(hostrun, p, 0L, p, p, p, p, p, 0L, 0L, 0L, d[0], d[1]),
                                "backward " + what);
                        assertNotEquals(0, k.eval(hostrun, p, p, p, p, p, p, d[0], d[1], 0), "eval " + what);
                    }
                    // one row: no batch statistics
                    assertNotEquals(0, k.forward(hostrun, p, 0L, p, p, p, p, p, 0L, 0L, 1, 4, 0), "M = 1 " + k);
                    assertTrue(NativeCore.sev_last_error().contains("more than one value"),
                            NativeCore.sev_last_error());
                }
            }
        }
    }
}
