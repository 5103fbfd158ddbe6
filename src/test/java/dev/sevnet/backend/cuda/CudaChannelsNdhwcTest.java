package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
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
 * The channels-last glue kernels (kernels/channels_ndhwc.cu, {@code sevc_*_ndhwc*} and the layout transforms, called
 * directly on the backend's stream) on a GPU against the CPU references {@code sev_*_ndhwc*} on the same inputs, fp32,
 * bf16 and fp16. Tolerances as the host-run test (dev.sevnet.kernels.ChannelsNdhwcHostRunTest), whose bodies these
 * kernels run: bit for bit except the column reductions (global pool forward, the SE gate's dg), within
 * 1e-6 |ref| + 1e-9 (double sums in another order); the reductions run twice give the same bits. Bad arguments are
 * SEVC_E_ARG with a message. Skipped without a GPU.
 */
@Tag("gpu")
class CudaChannelsNdhwcTest {
    static CudaBackend gpu;
    static final int F32 = 0, BF16 = 1, F16 = 2;

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    // {N, C, S}: ragged (C 1, 3, 33, 70; S 1, 7, 49) and SEVNet-G8's widths at real sizes (batch 2, 4 frames)
    static final long[][] SHAPES = {{1, 1, 1}, {2, 3, 7}, {3, 33, 49}, {1, 70, 7}, {3, 70, 1}, {2, 32, 4 * 56 * 56},
        {2, 64, 4 * 28 * 28}, {2, 128, 4 * 14 * 14}, {2, 256, 4 * 7 * 7}, {2, 512, 4 * 7 * 7}, {1, 95, 1025}};

    static long stream() {
        return gpu.cudaDevice().streamAddress();
    }

    static void k(int rc, String what) {
        assertEquals(0, rc, what + ": " + (rc == 0 ? "" : CudaKernels.sevc_last_error()));
    }

    static void cpu(int rc, String what) {
        assertEquals(0, rc, what + ": " + NativeCore.sev_last_error());
    }

    static DType dtypeOf(int code) {
        return code == F32 ? DType.FLOAT32 : code == BF16 ? DType.BFLOAT16 : DType.FLOAT16;
    }

    static Tensor randn(Random r, int code, long n) {
        Tensor t = Tensor.empty(Shape.of(n), dtypeOf(code));
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < n; i++) {
            float v = (float) r.nextGaussian();
            if (code == F32) {
                b.putFloat(4 * i, v);
            } else {
                b.putShort(2 * i, code == BF16 ? Half.floatToBf16(v) : Half.fromFloat(v));
            }
        }
        return t;
    }

    /** Host tensor of 0xff bytes (NaN in every format). */
    static Tensor poison(int code, long n) {
        Tensor t = Tensor.empty(Shape.of(n), dtypeOf(code));
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) 0xff);
        }
        return t;
    }

    static Tensor dev(Tensor host) {
        return gpu.toDevice(host);
    }

    static Tensor copy(Tensor t) {
        Tensor c = Tensor.empty(t.shape(), t.dtype());
        c.hostBuffer().put(t.hostBuffer());
        return c;
    }

    static void assertSameBits(Tensor expected, Tensor actualDevice, String what) {
        try (Tensor actual = actualDevice.toHostCopy()) {
            ByteBuffer e = expected.hostBuffer(), a = actual.hostBuffer();
            assertEquals(e.capacity(), a.capacity(), what + ": size");
            int w = expected.dtype() == DType.FLOAT32 ? 4 : 2;
            for (int i = 0; i < e.capacity(); i += w) {
                int ev = w == 4 ? e.getInt(i) : e.getShort(i), av = w == 4 ? a.getInt(i) : a.getShort(i);
                if (ev != av) {
                    fail(what + "[" + i / w + "]: expected bits " + Integer.toHexString(ev) + ", got "
                            + Integer.toHexString(av));
                }
            }
        }
    }

    static void assertReduced(Tensor expected, Tensor actualDevice, String what) {
        float[] e = expected.toFloatArray(), a = actualDevice.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            if (!(Math.abs((double) e[i] - a[i]) <= 1e-6 * Math.abs(e[i]) + 1e-9)) {
                fail(what + "[" + i + "]: expected " + e[i] + ", got " + a[i]);
            }
        }
    }

    @Test
    void kernelsMatchTheCpuReferences() {
        Random r = new Random(7);
        for (long[] s : SHAPES) {
            long n = s[0], c = s[1], sp = s[2], count = n * c * sp;
            for (int dt : new int[] {F32, BF16, F16}) {
                String what = dtypeOf(dt) + " " + Arrays.toString(s);
                int eb = dt == F32 ? 4 : 2;
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, dt, count), xd = dev(x);
                    // layout transforms
                    Tensor lRef = poison(dt, count), l = dev(poison(dt, count)), back = dev(poison(dt, count));
                    cpu(dt == F32 ? NativeCore.sev_ncdhw_to_ndhwc(x.address(), lRef.address(), n, c, sp)
                            : NativeCore.sev_ncdhw_to_ndhwc_u16(x.address(), lRef.address(), n, c, sp), what);
                    k(CudaKernels.sevc_ncdhw_to_ndhwc(xd.address(), l.address(), n, c, sp, eb, stream()), what);
                    k(CudaKernels.sevc_ndhwc_to_ncdhw(l.address(), back.address(), n, c, sp, eb, stream()), what);
                    assertSameBits(lRef, l, "ncdhw_to_ndhwc " + what);
                    assertSameBits(x, back, "ndhwc_to_ncdhw " + what);

                    // conv epilogue: bias, residual, ReLU
                    Tensor y = randn(r, dt, count), bias = randn(r, F32, c), res = randn(r, dt, count);
                    Tensor yRef = copy(y), yd = dev(y);
                    cpu(NativeCore.sev_bias_act_ndhwc(yRef.address(), bias.address(), res.address(), n * sp, c, 1, dt),
                            what);
                    k(CudaKernels.sevc_bias_act_ndhwc(yd.address(), dev(bias).address(), dev(res).address(), n * sp, c,
                            1, dt, stream()), what);
                    assertSameBits(yRef, yd, "bias_act_ndhwc " + what);

                    // SE scale
                    Tensor g = randn(r, F32, n * c), gd = dev(g);
                    Tensor sRef = poison(dt, count), sd = dev(poison(dt, count));
                    cpu(NativeCore.sev_channel_scale_ndhwc_forward(x.address(), g.address(), sRef.address(), n, c, sp,
                            dt), what);
                    k(CudaKernels.sevc_channel_scale_ndhwc_forward(xd.address(), gd.address(), sd.address(), n, c, sp,
                            dt, stream()), what);
                    assertSameBits(sRef, sd, "channel_scale_ndhwc_forward " + what);

                    // global average pool
                    Tensor pRef = poison(F32, n * c), pd = dev(poison(F32, n * c)), pd2 = dev(poison(F32, n * c));
                    cpu(NativeCore.sev_global_avgpool_ndhwc_forward(x.address(), pRef.address(), n, c, sp, dt), what);
                    k(CudaKernels.sevc_global_avgpool_ndhwc_forward(xd.address(), pd.address(), n, c, sp, dt,
                            stream()), what);
                    k(CudaKernels.sevc_global_avgpool_ndhwc_forward(xd.address(), pd2.address(), n, c, sp, dt,
                            stream()), what);
                    assertReduced(pRef, pd, "global_avgpool_ndhwc_forward " + what);
                    assertSameBits(pd.toHostCopy(), pd2, "global_avgpool_ndhwc_forward run twice " + what);
                    Tensor gy = randn(r, F32, n * c);
                    Tensor gRef = poison(dt, count), gxd = dev(poison(dt, count));
                    cpu(NativeCore.sev_global_avgpool_ndhwc_backward(gy.address(), gRef.address(), n, c, sp, dt),
                            what);
                    k(CudaKernels.sevc_global_avgpool_ndhwc_backward(dev(gy).address(), gxd.address(), n, c, sp, dt,
                            stream()), what);
                    assertSameBits(gRef, gxd, "global_avgpool_ndhwc_backward " + what);

                    // concat / split: the two halves of a downsample block
                    long m = n * sp;
                    Tensor b = randn(r, dt, m * c), bd = dev(b);
                    Tensor cRef = poison(dt, 2 * count), cd = dev(poison(dt, 2 * count));
                    cpu(NativeCore.sev_concat_channels_ndhwc(x.address(), b.address(), cRef.address(), m, c, c, eb),
                            what);
                    k(CudaKernels.sevc_concat_channels_ndhwc(xd.address(), bd.address(), cd.address(), m, c, c, eb,
                            stream()), what);
                    assertSameBits(cRef, cd, "concat_channels_ndhwc " + what);
                    Tensor a2 = dev(poison(dt, count)), b2 = dev(poison(dt, count));
                    k(CudaKernels.sevc_split_channels_ndhwc(cd.address(), a2.address(), b2.address(), m, c, c, eb,
                            stream()), what);
                    assertSameBits(x, a2, "split_channels_ndhwc a " + what);
                    assertSameBits(b, b2, "split_channels_ndhwc b " + what);

                    // SE backward (fp32)
                    if (dt == F32) {
                        Tensor dy = randn(r, F32, count), dyd = dev(dy);
                        Tensor dxRef = poison(F32, count), dgRef = poison(F32, n * c);
                        Tensor dxd = dev(poison(F32, count)), dgd = dev(poison(F32, n * c));
                        Tensor dgd2 = dev(poison(F32, n * c)), dxd2 = dev(poison(F32, count));
                        cpu(NativeCore.sev_channel_scale_ndhwc_backward(x.address(), g.address(), dy.address(),
                                dxRef.address(), dgRef.address(), n, c, sp), what);
                        k(CudaKernels.sevc_channel_scale_ndhwc_backward(xd.address(), gd.address(), dyd.address(),
                                dxd.address(), dgd.address(), n, c, sp, stream()), what);
                        k(CudaKernels.sevc_channel_scale_ndhwc_backward(xd.address(), gd.address(), dyd.address(),
                                dxd2.address(), dgd2.address(), n, c, sp, stream()), what);
                        assertSameBits(dxRef, dxd, "channel_scale_ndhwc_backward dx " + what);
                        assertReduced(dgRef, dgd, "channel_scale_ndhwc_backward dg " + what);
                        assertSameBits(dgd.toHostCopy(), dgd2, "channel_scale_ndhwc_backward dg run twice " + what);
                    }
                }
            }
        }
    }

    // {n, c, t, h, w}, kernel, stride, padding: the shortcut's pool at G8 widths and sizes, a padded strided 3-d one
    static final int[][][] POOLS = {
        {{2, 5, 3, 11, 13}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
        {{2, 64, 4, 56, 56}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
        {{2, 256, 4, 14, 14}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
        {{2, 33, 7, 9, 10}, {3, 3, 2}, {2, 2, 1}, {1, 1, 0}},
    };

    static int[] params(int n, int c, int t, int h, int w, int[] k, int[] s, int[] p) {
        int to = (t + 2 * p[0] - k[0]) / s[0] + 1;
        int ho = (h + 2 * p[1] - k[1]) / s[1] + 1;
        int wo = (w + 2 * p[2] - k[2]) / s[2] + 1;
        return new int[] {n, c, t, h, w, c, k[0], k[1], k[2], s[0], s[1], s[2], p[0], p[1], p[2], 1, to, ho, wo};
    }

    @Test
    void avgPoolMatchesTheCpuReferenceBitForBit() {
        Random r = new Random(8);
        for (int[][] cs : POOLS) {
            int[] d = cs[0];
            int[] p = params(d[0], d[1], d[2], d[3], d[4], cs[1], cs[2], cs[3]);
            long in = (long) d[0] * d[1] * d[2] * d[3] * d[4], out = (long) d[0] * d[1] * p[16] * p[17] * p[18];
            for (int dt : new int[] {F32, BF16, F16}) {
                String what = dtypeOf(dt) + " " + Arrays.deepToString(cs);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, dt, in), yRef = poison(dt, out), yd = dev(poison(dt, out));
                    cpu(NativeCore.sev_avgpool3d_ndhwc_forward(x.address(), yRef.address(), p, dt), what);
                    k(CudaKernels.sevc_avgpool3d_ndhwc_forward(dev(x).address(), yd.address(), p, dt, stream()), what);
                    assertSameBits(yRef, yd, "avgpool3d_ndhwc_forward " + what);
                    Tensor dy = randn(r, dt, out), dxRef = poison(dt, in), dxd = dev(poison(dt, in));
                    cpu(NativeCore.sev_avgpool3d_ndhwc_backward(dy.address(), dxRef.address(), p, dt), what);
                    k(CudaKernels.sevc_avgpool3d_ndhwc_backward(dev(dy).address(), dxd.address(), p, dt, stream()),
                            what);
                    assertSameBits(dxRef, dxd, "avgpool3d_ndhwc_backward " + what);
                }
            }
        }
    }

    @Test
    void badArgumentsAreErrorsWithAMessage() {
        try (TensorScope scope = TensorScope.open()) {
            long p = dev(poison(F32, 64)).address(), q = dev(poison(F32, 64)).address();
            expect(CudaKernels.sevc_ncdhw_to_ndhwc(p, q, -1, 2, 3, 4, stream()), "ncdhw_to_ndhwc: negative size");
            expect(CudaKernels.sevc_ndhwc_to_ncdhw(p, q, 1, 2, 3, 3, stream()), "element size");
            expect(CudaKernels.sevc_ncdhw_to_ndhwc(p, p, 1, 2, 3, 2, stream()), "in place");
            expect(CudaKernels.sevc_bias_act_ndhwc(p, 0, 0, 3, 2, 0, 5, stream()), "bias_act_ndhwc: dtype");
            expect(CudaKernels.sevc_channel_scale_ndhwc_forward(p, 0, q, 1, 2, 3, F32, stream()), "NULL");
            expect(CudaKernels.sevc_concat_channels_ndhwc(p, q, p, 4, -2, 1, 2, stream()), "negative size");
            int[] bad = params(1, 2, 3, 4, 5, new int[] {1, 3, 3}, new int[] {1, 2, 2}, new int[] {0, 1, 1});
            bad[9] = 0;
            expect(CudaKernels.sevc_avgpool3d_ndhwc_forward(p, q, bad, F32, stream()), "bad parameter block");
            // nothing to do is not an error, and the stream is still good
            k(CudaKernels.sevc_global_avgpool_ndhwc_backward(0, 0, 0, 4, 3, BF16, stream()), "N = 0");
            gpu.cudaDevice().synchronize();
        }
    }

    static void expect(int rc, String reason) {
        assertEquals(CudaKernels.SEVC_E_ARG, rc, reason);
        assertTrue(CudaKernels.sevc_last_error().contains(reason), CudaKernels.sevc_last_error());
    }
}
