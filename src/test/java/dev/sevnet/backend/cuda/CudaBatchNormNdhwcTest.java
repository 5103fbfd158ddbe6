package dev.sevnet.backend.cuda;

import static dev.sevnet.kernels.BatchNormHalfHostRunTest.assertFp32Close;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.assertStat;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.backwardSlack;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.forwardSlack;
import static dev.sevnet.kernels.BatchNormNdhwcHostRunTest.assertResult;
import static dev.sevnet.kernels.BatchNormNdhwcHostRunTest.assertSameBits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.kernels.BatchNormHalfHostRunTest.Fwd;
import dev.sevnet.kernels.BatchNormNdhwcHostRunTest;
import dev.sevnet.kernels.BatchNormNdhwcHostRunTest.Kind;
import dev.sevnet.kernels.BatchNormNdhwcHostRunTest.Shifted;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The channels-last batch-norm kernels ({@code sevc_bn_act_train_forward_ndhwc_*}, {@code sevc_bn_act_backward_ndhwc_*},
 * {@code sevc_batchnorm_eval_ndhwc_*}, kernels/batchnorm_ndhwc.cu, called directly on the backend's stream) on a GPU
 * against the CPU references {@code sev_*_ndhwc_*} on the same inputs, fp32 / bf16 / fp16, with the host-run test's
 * tolerances (dev.sevnet.kernels.BatchNormNdhwcHostRunTest, whose bodies these kernels run): statistics within a few
 * fp32 ulps; y and dx within 2^-20 of the summed terms (fp32) or one 16-bit ulp plus that (16-bit; the device's FMA
 * contraction of x*a + b moves the fp32 value by at most half an ulp of x*a, inside that slack); dgamma, dbeta 1e-5;
 * dresidual bit for bit. Scratch both ways (the caller's buffer, the stream-ordered pool) and every kernel run twice:
 * the same bits (fixed order, no atomics). Bad sizes and a too small scratch: SEVC_E_ARG with a message. Skipped
 * without a GPU.
 */
@Tag("gpu")
class CudaBatchNormNdhwcTest {
    static final float EPS = 1e-5f;
    static final float MOMENTUM = 0.1f;
    static CudaBackend gpu;

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    // M, C: ragged (partial channel tiles, fewer rows than row lanes, long columns; C = 2080: capped split count) and
    // SEVNet-G8's BN widths at batch 2, 4 frames of the stage's real plane (stem 32 and 64 at 56^2, 128 at 28^2, 256
    // at 14^2, 512 at 7^2)
    static final long[][] SHAPES = {{2, 3}, {5, 3}, {7, 33}, {5, 70}, {7, 1}, {4099, 70}, {20001, 3}, {4001, 2080},
        {2 * 4 * 56 * 56, 32}, {2 * 4 * 56 * 56, 64}, {2 * 4 * 28 * 28, 128}, {2 * 4 * 14 * 14, 256},
        {2 * 4 * 7 * 7, 512}};

    static long stream() {
        return gpu.cudaDevice().streamAddress();
    }

    static void k(int rc, String what) {
        assertEquals(0, rc, what + ": " + (rc == 0 ? "" : CudaKernels.sevc_last_error()));
    }

    static Tensor dev(Tensor h) {
        return h == null ? null : gpu.toDevice(h);
    }

    static long addr(Tensor t) {
        return t == null ? 0L : t.address();
    }

    static DType dtype(Kind kind) {
        return kind.half == null ? DType.FLOAT32 : kind.half.dtype;
    }

    /** All bytes 0xff: NaN in every format, so an unwritten element shows up. */
    static Tensor nanDev(DType dt, long... dims) {
        Tensor h = Tensor.empty(Shape.of(dims), dt);
        ByteBuffer b = h.hostBuffer();
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) 0xff);
        }
        return gpu.toDevice(h);
    }

    static Tensor host(Tensor d) {
        return d.toHostCopy();
    }

    static short[] raw(Tensor t) {
        ByteBuffer b = t.hostBuffer();
        short[] a = new short[b.capacity() / 2];
        for (int i = 0; i < a.length; i++) {
            a[i] = b.getShort(2 * i);
        }
        return a;
    }

    /** scratch: a device buffer of exactly sevc_bn_act_ndhwc_scratch_bytes(m, c) bytes, or 0 (the pool). */
    static long scratch(boolean given, long m, long c, long[] bytes) {
        long need = CudaKernels.sevc_bn_act_ndhwc_scratch_bytes(m, c);
        assertTrue(need > 0, "scratch bytes " + need);
        bytes[0] = given ? need : 0;
        return given ? nanDev(DType.FLOAT32, (need + 3) / 4).address() : 0L;
    }

    static int forward(Kind kind, Tensor x, Tensor res, Tensor g, Tensor b, Tensor y, Tensor m, Tensor is, Tensor rm,
            Tensor rv, long rows, long c, boolean relu, long scratch, long scratchBytes) {
        return forwardAt(kind, addr(x), addr(res), g, b, addr(y), m, is, rm, rv, rows, c, relu, scratch, scratchBytes);
    }

    static int backward(Kind kind, Tensor x, Tensor y, Tensor dy, Tensor g, Tensor m, Tensor is, Tensor dx, Tensor dg,
            Tensor db, Tensor dres, long rows, long c, long scratch, long scratchBytes) {
        return backwardAt(kind, addr(x), addr(y), addr(dy), g, m, is, addr(dx), dg, db, addr(dres), rows, c, scratch,
                scratchBytes);
    }

    static int eval(Kind kind, Tensor x, Tensor g, Tensor b, Tensor rm, Tensor rv, Tensor y, long rows, long c,
            boolean relu) {
        return evalAt(kind, addr(x), g, b, rm, rv, addr(y), rows, c, relu);
    }

    static Tensor randn(Random r, long... dims) {
        return CudaBackendOpsTest.rand(r, dims);
    }

    @Test
    void kernelsMatchTheCpuReferences() {
        Random r = new Random(91);
        for (Kind kind : Kind.values()) {
            DType dt = dtype(kind);
            for (long[] d : SHAPES) {
                long m = d[0], c = d[1];
                for (int variant = 0; variant < 4; variant++) {
                    boolean relu = (variant & 1) != 0, residual = (variant & 2) != 0;
                    boolean given = variant % 2 == 0;  // scratch: the caller's buffer, or the stream-ordered pool
                    String what = " " + kind + " " + Arrays.toString(d) + " relu=" + relu + " residual=" + residual;
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor x = kind.randn(r, 3.0, 2.0, m, c);
                        Tensor res = residual ? kind.randn(r, 0.0, 1.0, m, c) : null;
                        Tensor gamma = randn(r, c), beta = randn(r, c), rm0 = randn(r, c);
                        Tensor rv0 = Tensor.full(Shape.of(c), 1f);
                        Fwd ref = Fwd.fresh(kind.half, rm0, rv0, m, c, 1);
                        k(kind.forward(false, x.address(), addr(res), gamma.address(), beta.address(),
                                ref.y().address(), ref.mean().address(), ref.invstd().address(), ref.rm().address(),
                                ref.rv().address(), m, c, relu ? 1 : 0), "reference" + what);
                        Tensor xd = dev(x), resd = dev(res), gd = dev(gamma), bd = dev(beta);
                        Tensor y = nanDev(dt, m, c), mean = nanDev(DType.FLOAT32, c), is = nanDev(DType.FLOAT32, c);
                        Tensor rm = dev(rm0), rv = dev(rv0);
                        long[] sb = new long[1];
                        long s = scratch(given, m, c, sb);
                        k(forward(kind, xd, resd, gd, bd, y, mean, is, rm, rv, m, c, relu, s, sb[0]), "forward" + what);
                        Fwd got = new Fwd(host(y), host(mean), host(is), host(rm), host(rv));
                        assertStat(ref.mean(), got.mean(), "save_mean" + what);
                        assertStat(ref.invstd(), got.invstd(), "save_invstd" + what);
                        assertStat(ref.rm(), got.rm(), "running_mean" + what);
                        assertStat(ref.rv(), got.rv(), "running_var" + what);
                        assertResult(kind, ref.y(), got.y(), forwardSlack(x, res, gamma, beta, ref, m, c, 1),
                                "y" + what);
                        // again, the other scratch mode: the same bits
                        long s2 = scratch(!given, m, c, sb);
                        Tensor y2 = nanDev(dt, m, c);
                        k(forward(kind, xd, resd, gd, bd, y2, mean, is, null, null, m, c, relu, s2, sb[0]),
                                "forward again" + what);
                        assertArrayEquals(raw(got.y()), raw(host(y2)), "forward run twice" + what);
                        if (residual) {
                            continue;  // the backward's variants: relu on / off
                        }
                        Tensor dy = kind.randn(r, 0.0, 1.0, m, c);
                        Tensor yArg = relu ? ref.y() : null;
                        Tensor dxRef = Tensor.empty(Shape.of(m, c), dt), drRef = Tensor.empty(Shape.of(m, c), dt);
                        Tensor dgRef = Tensor.empty(Shape.of(c)), dbRef = Tensor.empty(Shape.of(c));
                        k(kind.backward(false, x.address(), addr(yArg), dy.address(), gamma.address(),
                                ref.mean().address(), ref.invstd().address(), dxRef.address(), dgRef.address(),
                                dbRef.address(), drRef.address(), m, c), "reference backward" + what);
                        Tensor md = dev(ref.mean()), isd = dev(ref.invstd()), yd = dev(yArg), dyd = dev(dy);
                        Tensor dx = nanDev(dt, m, c), dr = nanDev(dt, m, c);
                        Tensor dg = nanDev(DType.FLOAT32, c), db = nanDev(DType.FLOAT32, c);
                        s = scratch(given, m, c, sb);
                        k(backward(kind, xd, yd, dyd, gd, md, isd, dx, dg, db, dr, m, c, s, sb[0]), "backward" + what);
                        assertFp32Close(dgRef, host(dg), 1e-5, 1e-5, "dgamma" + what);
                        assertFp32Close(dbRef, host(db), 1e-5, 1e-5, "dbeta" + what);
                        Tensor dxh = host(dx);
                        assertResult(kind, dxRef, dxh, backwardSlack(x, drRef, gamma, ref, dgRef, dbRef, m, c, 1),
                                "dx" + what);
                        assertArrayEquals(raw(drRef), raw(host(dr)), "dresidual" + what);
                        s2 = scratch(!given, m, c, sb);
                        Tensor dx2 = nanDev(dt, m, c);
                        k(backward(kind, xd, yd, dyd, gd, md, isd, dx2, null, null, null, m, c, s2, sb[0]),
                                "backward again" + what);
                        assertArrayEquals(raw(dxh), raw(host(dx2)), "backward run twice" + what);
                    }
                }
            }
        }
    }

    /**
     * The 16-byte passes (aligned tensors, C a multiple of the group) and the scalar passes (the same data one element
     * off alignment) on the device: every output bit for bit, as on the host (BatchNormNdhwcHostRunTest's
     * counterpart) — both call the same functions (the backward's sum of g * xhat an explicit fma), so a difference
     * here is a walk that skips or repeats a group, or the compiler contracting an expression differently in the two
     * kernels.
     */
    @Test
    void theSixteenBytePassesAreTheScalarPassesBitForBit() {
        Random r = new Random(93);
        for (Kind kind : Kind.values()) {
            DType dt = dtype(kind);
            for (long[] d : BatchNormNdhwcHostRunTest.sixteenByteShapes()) {
                long m = d[0], c = d[1];
                String what = " " + kind + " " + Arrays.toString(d);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = kind.randn(r, 0.5, 1.5, m, c), res = kind.randn(r, 0.0, 1.0, m, c);
                    Tensor dy = kind.randn(r, 0.0, 1.0, m, c);
                    Tensor gd = dev(randn(r, c)), bd = dev(randn(r, c)), rm0 = randn(r, c);
                    Tensor rv0 = Tensor.full(Shape.of(c), 0.9f);
                    Shifted xs = Shifted.of(x).moved(CudaBatchNormNdhwcTest::dev);
                    Shifted ress = Shifted.of(res).moved(CudaBatchNormNdhwcTest::dev);
                    Shifted dys = Shifted.of(dy).moved(CudaBatchNormNdhwcTest::dev);
                    Tensor xd = dev(x), resd = dev(res), dyd = dev(dy);
                    assertEquals(0, xd.address() % 16, "the 16-byte passes' run is aligned" + what);
                    long[] sb = new long[1];
                    // training forward, residual and ReLU
                    Tensor y = nanDev(dt, m, c), mean = nanDev(DType.FLOAT32, c), is = nanDev(DType.FLOAT32, c);
                    Tensor rm = dev(rm0), rv = dev(rv0);
                    k(forward(kind, xd, resd, gd, bd, y, mean, is, rm, rv, m, c, true, scratch(true, m, c, sb), sb[0]),
                            "16-byte forward" + what);
                    Shifted ys = Shifted.nans(kind, m, c).moved(CudaBatchNormNdhwcTest::dev);
                    Tensor mean2 = nanDev(DType.FLOAT32, c), is2 = nanDev(DType.FLOAT32, c);
                    Tensor rm2 = dev(rm0), rv2 = dev(rv0);
                    k(forwardAt(kind, xs.address(), ress.address(), gd, bd, ys.address(), mean2, is2, rm2, rv2, m, c,
                            true, 0L, 0L), "scalar forward" + what);
                    Tensor yh = host(y);
                    assertSameBits(yh, ys.view(m, c), "y" + what);
                    assertSameBits(host(mean), host(mean2), "save_mean" + what);
                    assertSameBits(host(is), host(is2), "save_invstd" + what);
                    assertSameBits(host(rm), host(rm2), "running_mean" + what);
                    assertSameBits(host(rv), host(rv2), "running_var" + what);
                    // backward through the ReLU, with dresidual
                    Shifted yss = Shifted.of(yh).moved(CudaBatchNormNdhwcTest::dev);
                    Tensor dx = nanDev(dt, m, c), dr = nanDev(dt, m, c);
                    Tensor dg = nanDev(DType.FLOAT32, c), db = nanDev(DType.FLOAT32, c);
                    k(backward(kind, xd, y, dyd, gd, mean, is, dx, dg, db, dr, m, c, 0L, 0L),
                            "16-byte backward" + what);
                    Shifted dxs = Shifted.nans(kind, m, c).moved(CudaBatchNormNdhwcTest::dev);
                    Shifted drs = Shifted.nans(kind, m, c).moved(CudaBatchNormNdhwcTest::dev);
                    Tensor dg2 = nanDev(DType.FLOAT32, c), db2 = nanDev(DType.FLOAT32, c);
                    k(backwardAt(kind, xs.address(), yss.address(), dys.address(), gd, mean, is, dxs.address(), dg2,
                            db2, drs.address(), m, c, 0L, 0L), "scalar backward" + what);
                    assertSameBits(host(dx), dxs.view(m, c), "dx" + what);
                    assertSameBits(host(dr), drs.view(m, c), "dresidual" + what);
                    assertSameBits(host(dg), host(dg2), "dgamma" + what);
                    assertSameBits(host(db), host(db2), "dbeta" + what);
                    // eval
                    Tensor ye = nanDev(dt, m, c);
                    k(eval(kind, xd, gd, bd, rm, rv, ye, m, c, true), "16-byte eval" + what);
                    Shifted yes = Shifted.nans(kind, m, c).moved(CudaBatchNormNdhwcTest::dev);
                    k(evalAt(kind, xs.address(), gd, bd, rm, rv, yes.address(), m, c, true), "scalar eval" + what);
                    assertSameBits(host(ye), yes.view(m, c), "eval y" + what);
                }
            }
        }
    }

    /**
     * relu(bn(x)) without a residual: the backward that recomputes the ReLU's mask from x
     * ({@code sevc_bn_relu_backward_ndhwc_*}) against the y form on the device's own forward y, on the device — dx,
     * dgamma, dbeta bit for bit: the recomputed y is the stored one, the device's FMA contraction of x * a + b and the
     * 16-bit rounding included. Random data and channels on their mean (x * a + b there is the rounding error of
     * mean * a, whose sign only the forward's own arithmetic reproduces); with and without gamma / beta; the 16-byte
     * passes and (x one element off a 16-byte boundary) the scalar ones; the caller's scratch and the pool.
     */
    @Test
    void theReluMaskFromXIsTheStoredYsBitForBit() {
        Random r = new Random(94);
        for (Kind kind : Kind.values()) {
            DType dt = dtype(kind);
            for (long[] d : SHAPES) {
                long m = d[0], c = d[1];
                for (int variant = 0; variant < 4; variant++) {
                    boolean onMean = variant % 2 == 1, affine = variant < 2, shifted = variant == 3;
                    String what = " " + kind + " " + Arrays.toString(d) + " variant " + variant;
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor x = onMean ? BatchNormNdhwcHostRunTest.onTheMean(kind, r, m, c)
                                : kind.randn(r, 0.3, 1.5, m, c);
                        Tensor dy = kind.randn(r, 0.0, 1.0, m, c);
                        Tensor gd = affine ? dev(randn(r, c)) : null;
                        Tensor bd = affine ? dev(variant == 1 ? Tensor.zeros(Shape.of(c)) : randn(r, c)) : null;
                        Tensor xd = dev(x), dyd = dev(dy);
                        Tensor y = nanDev(dt, m, c), mean = nanDev(DType.FLOAT32, c), is = nanDev(DType.FLOAT32, c);
                        k(forward(kind, xd, null, gd, bd, y, mean, is, null, null, m, c, true, 0L, 0L),
                                "forward" + what);
                        Tensor dx = nanDev(dt, m, c), dg = nanDev(DType.FLOAT32, c), db = nanDev(DType.FLOAT32, c);
                        k(backward(kind, xd, y, dyd, gd, mean, is, dx, dg, db, null, m, c, 0L, 0L), "y form" + what);
                        long[] sb = new long[1];
                        long scr = scratch(variant % 2 == 0, m, c, sb);
                        Tensor dg2 = nanDev(DType.FLOAT32, c), db2 = nanDev(DType.FLOAT32, c);
                        Tensor dx2;
                        if (shifted) {
                            Shifted xs = Shifted.of(x).moved(CudaBatchNormNdhwcTest::dev);
                            Shifted dxs = Shifted.nans(kind, m, c).moved(CudaBatchNormNdhwcTest::dev);
                            k(reluBackwardFromXAt(kind, xs.address(), addr(dyd), gd, bd, mean, is, dxs.address(), dg2,
                                    db2, m, c, scr, sb[0]), "from x" + what);
                            dx2 = dxs.view(m, c);
                        } else {
                            Tensor dxd = nanDev(dt, m, c);
                            k(reluBackwardFromXAt(kind, addr(xd), addr(dyd), gd, bd, mean, is, addr(dxd), dg2, db2, m,
                                    c, scr, sb[0]), "from x" + what);
                            dx2 = host(dxd);
                        }
                        assertSameBits(host(dx), dx2, "dx" + what);
                        assertSameBits(host(dg), host(dg2), "dgamma" + what);
                        assertSameBits(host(db), host(db2), "dbeta" + what);
                    }
                }
            }
        }
    }

    static int reluBackwardFromXAt(Kind kind, long x, long dy, Tensor g, Tensor b, Tensor m, Tensor is, long dx,
            Tensor dg, Tensor db, long rows, long c, long scratch, long scratchBytes) {
        return switch (kind) {
            case F32 -> CudaKernels.sevc_bn_relu_backward_ndhwc_f32(x, dy, addr(g), addr(b), addr(m), addr(is), dx,
                    addr(dg), addr(db), rows, c, scratch, scratchBytes, stream());
            case BF16 -> CudaKernels.sevc_bn_relu_backward_ndhwc_bf16(x, dy, addr(g), addr(b), addr(m), addr(is), dx,
                    addr(dg), addr(db), rows, c, scratch, scratchBytes, stream());
            case F16 -> CudaKernels.sevc_bn_relu_backward_ndhwc_f16(x, dy, addr(g), addr(b), addr(m), addr(is), dx,
                    addr(dg), addr(db), rows, c, scratch, scratchBytes, stream());
        };
    }

    /** forward with x, residual and y given by address (views at an offset too). */
    static int forwardAt(Kind kind, long x, long res, Tensor g, Tensor b, long y, Tensor m, Tensor is, Tensor rm,
            Tensor rv, long rows, long c, boolean relu, long scratch, long scratchBytes) {
        int r = relu ? 1 : 0;
        return switch (kind) {
            case F32 -> CudaKernels.sevc_bn_act_train_forward_ndhwc_f32(x, res, addr(g), addr(b), y, addr(m), addr(is),
                    addr(rm), addr(rv), rows, c, EPS, MOMENTUM, r, scratch, scratchBytes, stream());
            case BF16 -> CudaKernels.sevc_bn_act_train_forward_ndhwc_bf16(x, res, addr(g), addr(b), y, addr(m),
                    addr(is), addr(rm), addr(rv), rows, c, EPS, MOMENTUM, r, scratch, scratchBytes, stream());
            case F16 -> CudaKernels.sevc_bn_act_train_forward_ndhwc_f16(x, res, addr(g), addr(b), y, addr(m), addr(is),
                    addr(rm), addr(rv), rows, c, EPS, MOMENTUM, r, scratch, scratchBytes, stream());
        };
    }

    /** backward with x, y, dy, dx and dresidual given by address. */
    static int backwardAt(Kind kind, long x, long y, long dy, Tensor g, Tensor m, Tensor is, long dx, Tensor dg,
            Tensor db, long dres, long rows, long c, long scratch, long scratchBytes) {
        return switch (kind) {
            case F32 -> CudaKernels.sevc_bn_act_backward_ndhwc_f32(x, y, dy, addr(g), addr(m), addr(is), dx, addr(dg),
                    addr(db), dres, rows, c, scratch, scratchBytes, stream());
            case BF16 -> CudaKernels.sevc_bn_act_backward_ndhwc_bf16(x, y, dy, addr(g), addr(m), addr(is), dx, addr(dg),
                    addr(db), dres, rows, c, scratch, scratchBytes, stream());
            case F16 -> CudaKernels.sevc_bn_act_backward_ndhwc_f16(x, y, dy, addr(g), addr(m), addr(is), dx, addr(dg),
                    addr(db), dres, rows, c, scratch, scratchBytes, stream());
        };
    }

    /** eval with x and y given by address. */
    static int evalAt(Kind kind, long x, Tensor g, Tensor b, Tensor rm, Tensor rv, long y, long rows, long c,
            boolean relu) {
        int r = relu ? 1 : 0;
        return switch (kind) {
            case F32 -> CudaKernels.sevc_batchnorm_eval_ndhwc_f32(x, addr(g), addr(b), addr(rm), addr(rv), y, rows, c,
                    EPS, r, stream());
            case BF16 -> CudaKernels.sevc_batchnorm_eval_ndhwc_bf16(x, addr(g), addr(b), addr(rm), addr(rv), y, rows,
                    c, EPS, r, stream());
            case F16 -> CudaKernels.sevc_batchnorm_eval_ndhwc_f16(x, addr(g), addr(b), addr(rm), addr(rv), y, rows, c,
                    EPS, r, stream());
        };
    }

    @Test
    void evalMatchesTheCpuReference() {
        Random r = new Random(92);
        for (Kind kind : Kind.values()) {
            for (long[] d : SHAPES) {
                long m = d[0], c = d[1];
                for (boolean relu : new boolean[] {false, true}) {
                    String what = " " + kind + " " + Arrays.toString(d) + " relu=" + relu;
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor x = kind.randn(r, 0.5, 2.0, m, c);
                        Tensor gamma = randn(r, c), beta = randn(r, c), rm = randn(r, c);
                        Tensor rv = Tensor.full(Shape.of(c), 0.8f);
                        Tensor ref = kind.nans(m, c);
                        k(kind.eval(false, x.address(), gamma.address(), beta.address(), rm.address(), rv.address(),
                                ref.address(), m, c, relu ? 1 : 0), "reference" + what);
                        Tensor y = nanDev(dtype(kind), m, c);
                        k(eval(kind, dev(x), dev(gamma), dev(beta), dev(rm), dev(rv), y, m, c, relu), "eval" + what);
                        // 2^-20 of |x a| + |b| + |mean a|: the FMA's single rounding against the host's two
                        float[] xs = x.toFloatArray(), g = gamma.toFloatArray(), b = beta.toFloatArray();
                        float[] mu = rm.toFloatArray();
                        double[] slack = new double[xs.length];
                        for (int i = 0; i < xs.length; i++) {
                            int ch = (int) (i % c);
                            double a = g[ch] / Math.sqrt(0.8 + EPS);
                            slack[i] = 0x1p-20 * (Math.abs(xs[i] * a) + Math.abs(b[ch]) + Math.abs(mu[ch] * a));
                        }
                        assertResult(kind, ref, host(y), slack, "y" + what);
                    }
                }
            }
        }
    }

    @Test
    void badArgumentsAreErrorsWithAMessage() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = nanDev(DType.FLOAT32, 4096);
            long p = a.address();
            assertEquals(CudaKernels.SEVC_E_ARG, CudaKernels.sevc_bn_act_ndhwc_scratch_bytes(0, 4));
            int rc = CudaKernels.sevc_bn_act_train_forward_ndhwc_bf16(p, 0L, p, p, p, p, p, 0L, 0L, 0, 4, EPS,
                    MOMENTUM, 0, 0L, 0L, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("bn_act_train_forward_ndhwc_bf16: M"),
                    CudaKernels.sevc_last_error());
            rc = CudaKernels.sevc_bn_act_train_forward_ndhwc_f32(p, 0L, p, p, p, p, p, 0L, 0L, 1, 4, EPS, MOMENTUM, 0,
                    0L, 0L, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("more than one value"), CudaKernels.sevc_last_error());
            rc = CudaKernels.sevc_bn_act_backward_ndhwc_f16(p, 0L, p, p, p, p, p, 0L, 0L, 0L, 2, -4, 0L, 0L, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("bn_act_backward_ndhwc_f16: C"),
                    CudaKernels.sevc_last_error());
            rc = CudaKernels.sevc_batchnorm_eval_ndhwc_f32(p, p, p, p, p, p, 3, 0, EPS, 0, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            // a caller's scratch one byte short
            long need = CudaKernels.sevc_bn_act_ndhwc_scratch_bytes(100, 40);
            rc = CudaKernels.sevc_bn_act_train_forward_ndhwc_f32(p, 0L, p, p, p, p, p, 0L, 0L, 100, 40, EPS, MOMENTUM,
                    0, p, need - 1, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("scratch smaller"), CudaKernels.sevc_last_error());
            gpu.cudaDevice().synchronize();
        }
    }
}
