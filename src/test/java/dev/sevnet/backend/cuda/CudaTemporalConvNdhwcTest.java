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
 * The channels-last temporal conv kernels (kernels/temporal_conv_ndhwc.cu, {@code sevc_temporal_conv3_ndhwc_*},
 * called directly on the backend's stream) on a GPU against the CPU references {@code sev_temporal_conv3_ndhwc_*}
 * on the same inputs, fp32 and bf16, forward, backward-data and backward-weight; the split-K backward-weight
 * run twice gives the same bits; bad arguments are SEVC_E_ARG with a message. Tolerances as the host-run test
 * (dev.sevnet.kernels.TemporalConvNdhwcHostRunTest), whose bodies these kernels run: fp32 norm-wise 1e-5;
 * bf16 y/dx within one bf16 ulp of the reference (nearly all bit-equal); dw fp32. Skipped without a GPU.
 */
@Tag("gpu")
class CudaTemporalConvNdhwcTest {
    static CudaBackend gpu;

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    // n, c, t, h, w: ragged (T = 1, 2, 3; C not a multiple of the tile; odd H*W) and SEVNet-G8's temporal convs
    // (stem 32 at 112^2 / 4 -> 28^2 here, stages at their real H x W) at batch 2, 4 frames
    static final int[][] SHAPES = {{1, 3, 1, 2, 3}, {2, 5, 2, 9, 11}, {1, 17, 3, 3, 7}, {2, 70, 3, 5, 5},
        {3, 1, 5, 3, 3}, {2, 32, 4, 28, 28}, {2, 64, 4, 56, 56}, {2, 128, 4, 28, 28}, {2, 256, 4, 14, 14},
        {2, 512, 4, 7, 7}};

    static long stream() {
        return gpu.cudaDevice().streamAddress();
    }

    static void k(int rc, String what) {
        assertEquals(0, rc, what + ": " + (rc == 0 ? "" : CudaKernels.sevc_last_error()));
    }

    static void cpu(int rc, String what) {
        assertEquals(0, rc, what + ": " + NativeCore.sev_last_error());
    }

    static Tensor randn(Random r, DType dt, long... dims) {
        Shape s = Shape.of(dims);
        Tensor t = Tensor.empty(s, dt);
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < s.size(); i++) {
            float v = (float) r.nextGaussian();
            if (dt == DType.BFLOAT16) {
                b.putShort(2 * i, Half.floatToBf16(v));
            } else {
                b.putFloat(4 * i, v);
            }
        }
        return t;
    }

    /** A device tensor of NaN (all bytes 0xff: NaN in fp32 and bf16): an unwritten element shows up. */
    static Tensor nanOnDevice(DType dt, long... dims) {
        Shape s = Shape.of(dims);
        Tensor h = Tensor.empty(s, dt);
        ByteBuffer b = h.hostBuffer();
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) 0xff);
        }
        return gpu.toDevice(h);
    }

    static double normRel(float[] e, float[] a) {
        double num = 0, den = 0;
        for (int i = 0; i < e.length; i++) {
            assertTrue(Float.isFinite(a[i]), "non-finite at " + i);
            num += (e[i] - (double) a[i]) * (e[i] - (double) a[i]);
            den += (double) e[i] * e[i];
        }
        return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
    }

    static void assertFp32(Tensor expected, Tensor actual, String what) {
        double rel = normRel(expected.toFloatArray(), actual.toFloatArray());
        assertTrue(rel <= 1e-5, what + ": norm-wise relative error " + rel);
    }

    static void assertBf16(Tensor expected, Tensor actualDevice, String what) {
        try (Tensor actual = actualDevice.toHostCopy()) {
            ByteBuffer eb = expected.hostBuffer(), ab = actual.hostBuffer();
            float[] e = expected.toFloatArray();
            double rms = 0;
            for (float v : e) {
                rms += (double) v * v;
            }
            double slack = 1e-5 * Math.sqrt(rms / Math.max(1, e.length));
            int equal = 0;
            for (int i = 0; i < e.length; i++) {
                short es = eb.getShort(2 * i), as = ab.getShort(2 * i);
                if (es == as) {
                    equal++;
                    continue;
                }
                float a = Half.bf16ToFloat(as);
                double ulp = Math.scalb(1.0, Math.max(Math.getExponent(e[i]), Float.MIN_EXPONENT) - 7);
                if (!(Math.abs((double) e[i] - a) <= ulp + slack)) {
                    fail(what + "[" + i + "]: expected " + e[i] + ", got " + a);
                }
            }
            assertTrue(equal >= 0.99 * e.length, what + ": " + equal + " of " + e.length + " bit-equal");
        }
    }

    @Test
    void kernelsMatchTheCpuReferences() {
        Random r = new Random(5);
        for (int[] s : SHAPES) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            String name = Arrays.toString(s);
            for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
                boolean bf = dt == DType.BFLOAT16;
                String what = (bf ? "bf16 " : "fp32 ") + name;
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, dt, n, t, sp, c);
                    Tensor dy = randn(r, dt, n, t, sp, c);
                    Tensor w = randn(r, dt, c, c, 3);
                    Tensor xd = gpu.toDevice(x), dyd = gpu.toDevice(dy), wd = gpu.toDevice(w);
                    Tensor y = nanOnDevice(dt, n, t, sp, c), dx = nanOnDevice(dt, n, t, sp, c);
                    Tensor dw = nanOnDevice(DType.FLOAT32, c, c, 3);
                    Tensor yr = Tensor.empty(y.shape(), dt), dxr = Tensor.empty(dx.shape(), dt);
                    Tensor dwr = Tensor.empty(dw.shape(), DType.FLOAT32);
                    if (bf) {
                        k(CudaKernels.sevc_temporal_conv3_ndhwc_forward_bf16(xd.address(), wd.address(), y.address(), n,
                                c, t, sp, stream()), what);
                        k(CudaKernels.sevc_temporal_conv3_ndhwc_backward_data_bf16(dyd.address(), wd.address(),
                                dx.address(), n, c, t, sp, stream()), what);
                        k(CudaKernels.sevc_temporal_conv3_ndhwc_backward_weight_bf16(xd.address(), dyd.address(),
                                dw.address(), n, c, t, sp, stream()), what);
                        cpu(NativeCore.sev_temporal_conv3_ndhwc_forward_bf16(x.address(), w.address(), yr.address(), n,
                                c, t, sp), what);
                        cpu(NativeCore.sev_temporal_conv3_ndhwc_backward_data_bf16(dy.address(), w.address(),
                                dxr.address(), n, c, t, sp), what);
                        cpu(NativeCore.sev_temporal_conv3_ndhwc_backward_weight_bf16(x.address(), dy.address(),
                                dwr.address(), n, c, t, sp), what);
                        assertBf16(yr, y, "forward " + what);
                        assertBf16(dxr, dx, "backward data " + what);
                    } else {
                        k(CudaKernels.sevc_temporal_conv3_ndhwc_forward_f32(xd.address(), wd.address(), y.address(), n,
                                c, t, sp, stream()), what);
                        k(CudaKernels.sevc_temporal_conv3_ndhwc_backward_data_f32(dyd.address(), wd.address(),
                                dx.address(), n, c, t, sp, stream()), what);
                        k(CudaKernels.sevc_temporal_conv3_ndhwc_backward_weight_f32(xd.address(), dyd.address(),
                                dw.address(), n, c, t, sp, stream()), what);
                        cpu(NativeCore.sev_temporal_conv3_ndhwc_forward_f32(x.address(), w.address(), yr.address(), n,
                                c, t, sp), what);
                        cpu(NativeCore.sev_temporal_conv3_ndhwc_backward_data_f32(dy.address(), w.address(),
                                dxr.address(), n, c, t, sp), what);
                        cpu(NativeCore.sev_temporal_conv3_ndhwc_backward_weight_f32(x.address(), dy.address(),
                                dwr.address(), n, c, t, sp), what);
                        assertFp32(yr, y, "forward " + what);
                        assertFp32(dxr, dx, "backward data " + what);
                    }
                    assertFp32(dwr, dw, "backward weight " + what);
                    // split-K partials added in a fixed order: the same bits every run
                    Tensor dw2 = nanOnDevice(DType.FLOAT32, c, c, 3);
                    k(bf ? CudaKernels.sevc_temporal_conv3_ndhwc_backward_weight_bf16(xd.address(), dyd.address(),
                            dw2.address(), n, c, t, sp, stream())
                            : CudaKernels.sevc_temporal_conv3_ndhwc_backward_weight_f32(xd.address(), dyd.address(),
                                    dw2.address(), n, c, t, sp, stream()), what);
                    float[] a = dw.toFloatArray(), b = dw2.toFloatArray();
                    for (int i = 0; i < a.length; i++) {
                        assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]),
                                "backward weight run twice " + what + " at " + i);
                    }
                }
            }
        }
    }

    @Test
    void badArgumentsAreErrorsWithAMessage() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = nanOnDevice(DType.FLOAT32, 64);
            long p = a.address();
            int rc = CudaKernels.sevc_temporal_conv3_ndhwc_forward_f32(p, p, p, -1, 4, 2, 3, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("temporal_conv3_ndhwc_forward_f32: negative size"),
                    CudaKernels.sevc_last_error());
            rc = CudaKernels.sevc_temporal_conv3_ndhwc_backward_data_bf16(p, p, p, 70000, 4, 2, 3, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("65535 items"), CudaKernels.sevc_last_error());
            rc = CudaKernels.sevc_temporal_conv3_ndhwc_backward_weight_bf16(0, p, p, 1, 4, 2, 3, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            assertTrue(CudaKernels.sevc_last_error().contains("NULL"), CudaKernels.sevc_last_error());
            rc = CudaKernels.sevc_temporal_conv3_ndhwc_forward_bf16(p, p, p, 1, 4, 1 << 20, 1L << 20, stream());
            assertEquals(CudaKernels.SEVC_E_ARG, rc);
            // nothing to do is not an error, and the stream is still good
            k(CudaKernels.sevc_temporal_conv3_ndhwc_forward_f32(0, 0, 0, 0, 4, 2, 3, stream()), "N = 0");
            gpu.cudaDevice().synchronize();
        }
    }
}
