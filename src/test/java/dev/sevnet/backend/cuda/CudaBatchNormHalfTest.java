package dev.sevnet.backend.cuda;

import static dev.sevnet.kernels.BatchNormHalfHostRunTest.assertFp32Close;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.assertStat;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.assertWithinUlp;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.backwardSlack;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.bits;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.forwardSlack;
import static dev.sevnet.kernels.BatchNormHalfHostRunTest.randn16;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.kernels.BatchNormHalfHostRunTest.Fmt;
import dev.sevnet.kernels.BatchNormHalfHostRunTest.Fwd;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The batch-norm glue's 16-bit kernels ({@code sevc_bn_act_train_forward_bf16/_f16}, {@code sevc_bn_act_backward_bf16
 * /_f16}, kernels/conv_bn_relu.cu, called directly on the backend's stream) on a GPU against the CPU references
 * {@code sev_batchnorm_act_*_bf16/_f16} on the same inputs, with the host-run test's tolerances
 * (dev.sevnet.kernels.BatchNormHalfHostRunTest, whose bodies these kernels run): statistics within a few fp32 ulps,
 * y and dx within one 16-bit ulp (plus 8 fp32 ulps of the summed terms; the device's FMAs move the fp32 value by at
 * most an ulp of those terms) with at least 99% bit-identical, dresidual bit for bit; every kernel run twice gives
 * the same bits (no atomics). Skipped without a GPU.
 */
@Tag("gpu")
class CudaBatchNormHalfTest {
    static final float EPS = 1e-5f;
    static final float MOMENTUM = 0.1f;
    static CudaBackend gpu;

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    // N, C, S: ragged (S = 1, one channel, C above 2048, long channels) and SEVNet-G8's BN widths at batch 2,
    // 4 frames of the stage's real plane (stem 32 at 56^2, 64 at 56^2, 128 at 28^2, 256 at 14^2, 512 at 7^2)
    static final long[][] SHAPES = {{2, 3, 1}, {3, 1, 77}, {3, 5, 77}, {2, 4, 4099}, {2, 2100, 3}, {1, 7, 20001},
        {2, 32, 4 * 56 * 56}, {2, 64, 4 * 56 * 56}, {2, 128, 4 * 28 * 28}, {2, 256, 4 * 14 * 14}, {2, 512, 4 * 7 * 7}};

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

    static Tensor nanDev(DType dt, long... dims) {
        Shape s = Shape.of(dims);
        Tensor h = Tensor.empty(s, dt);
        java.nio.ByteBuffer b = h.hostBuffer();
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) 0xff);
        }
        return gpu.toDevice(h);
    }

    static Tensor host(Tensor d) {
        return d.toHostCopy();
    }

    static int forward(Fmt f, Tensor x, Tensor res, Tensor g, Tensor b, Tensor y, Tensor m, Tensor is, Tensor rm,
            Tensor rv, long n, long c, long s, boolean relu) {
        return f == Fmt.BF16
                ? CudaKernels.sevc_bn_act_train_forward_bf16(addr(x), addr(res), addr(g), addr(b), addr(y), addr(m),
                        addr(is), addr(rm), addr(rv), n, c, s, EPS, MOMENTUM, relu ? 1 : 0, stream())
                : CudaKernels.sevc_bn_act_train_forward_f16(addr(x), addr(res), addr(g), addr(b), addr(y), addr(m),
                        addr(is), addr(rm), addr(rv), n, c, s, EPS, MOMENTUM, relu ? 1 : 0, stream());
    }

    static int backward(Fmt f, Tensor x, Tensor y, Tensor dy, Tensor g, Tensor m, Tensor is, Tensor dx, Tensor dg,
            Tensor db, Tensor dres, long n, long c, long s) {
        return f == Fmt.BF16
                ? CudaKernels.sevc_bn_act_backward_bf16(addr(x), addr(y), addr(dy), addr(g), addr(m), addr(is),
                        addr(dx), addr(dg), addr(db), addr(dres), n, c, s, stream())
                : CudaKernels.sevc_bn_act_backward_f16(addr(x), addr(y), addr(dy), addr(g), addr(m), addr(is),
                        addr(dx), addr(dg), addr(db), addr(dres), n, c, s, stream());
    }

    static Tensor randn(Random r, long... dims) {
        return CudaBackendOpsTest.rand(r, dims);
    }

    @Test
    void kernelsMatchTheCpuReferences() {
        Random r = new Random(71);
        for (Fmt f : Fmt.values()) {
            for (long[] d : SHAPES) {
                long n = d[0], c = d[1], s = d[2];
                for (int variant = 0; variant < 4; variant++) {
                    boolean relu = (variant & 1) != 0, residual = (variant & 2) != 0;
                    String what = " " + f + " " + Arrays.toString(d) + " relu=" + relu + " residual=" + residual;
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor x = randn16(f, r, 3.0, 2.0, n, c, s);
                        Tensor res = residual ? randn16(f, r, 0.0, 1.0, n, c, s) : null;
                        Tensor gamma = randn(r, c), beta = randn(r, c), rm0 = randn(r, c);
                        Tensor rv0 = Tensor.full(Shape.of(c), 1f);
                        Fwd ref = Fwd.fresh(f, rm0, rv0, n, c, s);
                        k(f.forward(false, x.address(), addr(res), gamma.address(), beta.address(), ref.y().address(),
                                ref.mean().address(), ref.invstd().address(), ref.rm().address(), ref.rv().address(), n,
                                c, s, relu ? 1 : 0), "reference" + what);
                        Tensor xd = dev(x), resd = dev(res), gd = dev(gamma), bd = dev(beta);
                        Tensor y = nanDev(f.dtype, n, c, s);
                        Tensor m = nanDev(DType.FLOAT32, c), is = nanDev(DType.FLOAT32, c);
                        Tensor rm = dev(rm0), rv = dev(rv0);
                        k(forward(f, xd, resd, gd, bd, y, m, is, rm, rv, n, c, s, relu), "forward" + what);
                        Fwd got = new Fwd(host(y), host(m), host(is), host(rm), host(rv));
                        assertStat(ref.mean(), got.mean(), "save_mean" + what);
                        assertStat(ref.invstd(), got.invstd(), "save_invstd" + what);
                        assertStat(ref.rm(), got.rm(), "running_mean" + what);
                        assertStat(ref.rv(), got.rv(), "running_var" + what);
                        assertWithinUlp(f, ref.y(), got.y(), forwardSlack(x, res, gamma, beta, ref, n, c, s),
                                "y" + what);
                        // run again: the same bits
                        Tensor y2 = nanDev(f.dtype, n, c, s);
                        k(forward(f, xd, resd, gd, bd, y2, m, is, null, null, n, c, s, relu), "forward again" + what);
                        assertArrayEquals(bits(got.y()), bits(host(y2)), "forward run twice" + what);
                        if (residual) {
                            continue;  // the backward's variants: relu on / off
                        }
                        // backward from the reference forward's y and statistics
                        Tensor dy = randn16(f, r, 0.0, 1.0, n, c, s);
                        Tensor yArg = relu ? ref.y() : null;
                        Tensor dxRef = Tensor.empty(Shape.of(n, c, s), f.dtype);
                        Tensor drRef = Tensor.empty(Shape.of(n, c, s), f.dtype);
                        Tensor dgRef = Tensor.empty(Shape.of(c)), dbRef = Tensor.empty(Shape.of(c));
                        k(f.backward(false, x.address(), addr(yArg), dy.address(), gamma.address(),
                                ref.mean().address(), ref.invstd().address(), dxRef.address(), dgRef.address(),
                                dbRef.address(), drRef.address(), n, c, s), "reference backward" + what);
                        Tensor md = dev(ref.mean()), isd = dev(ref.invstd()), yd = dev(yArg), dyd = dev(dy);
                        Tensor dx = nanDev(f.dtype, n, c, s), dr = nanDev(f.dtype, n, c, s);
                        Tensor dg = nanDev(DType.FLOAT32, c), db = nanDev(DType.FLOAT32, c);
                        k(backward(f, xd, yd, dyd, gd, md, isd, dx, dg, db, dr, n, c, s), "backward" + what);
                        Tensor dgh = host(dg), dbh = host(db);
                        assertFp32Close(dgRef, dgh, 1e-5, 1e-5, "dgamma" + what);
                        assertFp32Close(dbRef, dbh, 1e-5, 1e-5, "dbeta" + what);
                        assertWithinUlp(f, dxRef, host(dx), backwardSlack(x, drRef, gamma, ref, dgRef, dbRef, n, c, s),
                                "dx" + what);
                        assertArrayEquals(bits(drRef), bits(host(dr)), "dresidual" + what);
                        Tensor dx2 = nanDev(f.dtype, n, c, s);
                        k(backward(f, xd, yd, dyd, gd, md, isd, dx2, null, null, null, n, c, s),
                                "backward again" + what);
                        assertArrayEquals(bits(host(dx)), bits(host(dx2)), "backward run twice" + what);
                    }
                }
            }
        }
    }

    @Test
    void badArgumentsAreErrorsWithAMessage() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = nanDev(DType.FLOAT32, 64);
            long p = a.address();
            int rc = CudaKernels.sevc_bn_act_train_forward_bf16(p, 0L, p, p, p, p, p, 0L, 0L, -1, 4, 3, EPS, MOMENTUM,
                    0, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("bn_act_train_forward_bf16: negative size"),
                    CudaKernels.sevc_last_error());
            rc = CudaKernels.sevc_bn_act_train_forward_f16(p, 0L, p, p, p, p, p, 0L, 0L, 1, 4, 1, EPS, MOMENTUM, 0,
                    stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("more than one value"), CudaKernels.sevc_last_error());
            rc = CudaKernels.sevc_bn_act_backward_f16(p, 0L, p, p, p, p, p, 0L, 0L, 0L, 2, -4, 3, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("bn_act_backward_f16: negative size"),
                    CudaKernels.sevc_last_error());
            // no channels is not an error, and the stream is still good
            k(CudaKernels.sevc_bn_act_backward_bf16(0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L, 2, 0, 3, stream()),
                    "C = 0");
            gpu.cudaDevice().synchronize();
        }
    }
}
