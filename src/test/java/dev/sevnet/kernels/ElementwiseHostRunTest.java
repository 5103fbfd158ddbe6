package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.assertBitwise;
import static dev.sevnet.kernels.KernelTestSupport.assertClose;
import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The element-wise kernels' bodies (kernels/elementwise.cuh) run on the host, against the CPU ops. */
class ElementwiseHostRunTest {
    private static final long[] SIZES = {1, 7, 1000, 33_333, 100_003};

    @Test
    void unaryAndBinaryOpsMatchCpu() {
        Random r = new Random(11);
        for (long n : SIZES) {
            try (TensorScope scope = TensorScope.open()) {
                Tensor a = randn(r, n);
                Tensor b = randn(r, n);
                Tensor ref = nan(n);
                Tensor got = nan(n);
                String sz = " n=" + n;

                ok(NativeCore.sev_relu_forward(a.address(), ref.address(), n), "relu");
                ok(NativeCore.sev_hostrun_relu_forward(a.address(), got.address(), n), "hostrun relu");
                assertBitwise(ref, got, "relu_forward" + sz);

                ok(NativeCore.sev_relu_backward(a.address(), b.address(), ref.address(), n), "relu_backward");
                ok(NativeCore.sev_hostrun_relu_backward(a.address(), b.address(), got.address(), n), "hostrun");
                assertBitwise(ref, got, "relu_backward" + sz);

                ok(NativeCore.sev_add(a.address(), b.address(), ref.address(), n), "add");
                ok(NativeCore.sev_hostrun_add(a.address(), b.address(), got.address(), n), "hostrun add");
                assertBitwise(ref, got, "add" + sz);

                ok(NativeCore.sev_add_relu(a.address(), b.address(), ref.address(), n), "add_relu");
                ok(NativeCore.sev_hostrun_add_relu(a.address(), b.address(), got.address(), n), "hostrun add_relu");
                assertBitwise(ref, got, "add_relu" + sz);

                ok(NativeCore.sev_mul(a.address(), b.address(), ref.address(), n), "mul");
                ok(NativeCore.sev_hostrun_mul(a.address(), b.address(), got.address(), n), "hostrun mul");
                assertBitwise(ref, got, "mul" + sz);

                ok(NativeCore.sev_scale(a.address(), -0.37f, ref.address(), n), "scale");
                ok(NativeCore.sev_hostrun_scale(a.address(), -0.37f, got.address(), n), "hostrun scale");
                assertBitwise(ref, got, "scale" + sz);

                ok(NativeCore.sev_fill(ref.address(), 2.5f, n), "fill");
                ok(NativeCore.sev_hostrun_fill(got.address(), 2.5f, n), "hostrun fill");
                assertBitwise(ref, got, "fill" + sz);

                ok(NativeCore.sev_sigmoid_forward(a.address(), ref.address(), n), "sigmoid");
                ok(NativeCore.sev_hostrun_sigmoid_forward(a.address(), got.address(), n), "hostrun sigmoid");
                assertClose(ref, got, 1e-6, 1e-7, "sigmoid_forward" + sz);

                Tensor y = Tensor.of(ref.toFloatArray(), Shape.of(n));  // sigmoid outputs
                ok(NativeCore.sev_sigmoid_backward(y.address(), b.address(), ref.address(), n), "sigmoid_backward");
                ok(NativeCore.sev_hostrun_sigmoid_backward(y.address(), b.address(), got.address(), n), "hostrun");
                assertClose(ref, got, 1e-6, 1e-7, "sigmoid_backward" + sz);
            }
        }
    }

    @Test
    void axpbyWithBetaZeroDoesNotReadY() {
        Random r = new Random(12);
        for (long n : SIZES) {
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n);
                Tensor y0 = randn(r, n);
                Tensor ref = nan(n);
                Tensor got = nan(n);
                ok(NativeCore.sev_axpby(1.5f, x.address(), 0f, ref.address(), n), "axpby");
                ok(NativeCore.sev_hostrun_axpby(1.5f, x.address(), 0f, got.address(), n), "hostrun axpby");
                assertBitwise(ref, got, "axpby beta=0 n=" + n);

                ref.copyFrom(y0);
                got.copyFrom(y0);
                ok(NativeCore.sev_axpby(1.5f, x.address(), -0.25f, ref.address(), n), "axpby");
                ok(NativeCore.sev_hostrun_axpby(1.5f, x.address(), -0.25f, got.address(), n), "hostrun axpby");
                assertClose(ref, got, 1e-6, 1e-7, "axpby n=" + n);
            }
        }
    }

    /**
     * sevc_axpby_list's body and batching (64 tensors a launch, 16384-element chunks, a block per chunk) on the host:
     * bit for bit the per-tensor kernel over 200 tensors (four batches: empty tensors among them, a batch ending in
     * empty ones, one entirely empty, the last tensor empty; some spanning several chunks and ending in a partial
     * one), beta 0 not reading y; and the CPU's sev_axpby_all is the CPU's
     * sev_axpby per tensor, bit for bit.
     */
    @Test
    void axpbyOverAListIsTheKernelPerTensorBitForBit() {
        Random r = new Random(21);
        long[] sizes = new long[200];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = i % 17 == 0 ? 0 : i % 29 == 1 ? 16384L * 2 + 5 : i % 11 == 3 ? 16384 : 1 + r.nextInt(3000);
        }
        // a batch that ends in empty tensors (63: the first batch's last), one entirely empty (128..191), the list's
        // last tensor empty
        sizes[62] = 0;
        sizes[63] = 0;
        for (int i = 128; i < 192; i++) {
            sizes[i] = 0;
        }
        sizes[199] = 0;
        for (float[] ab : new float[][] {{1f, 0f}, {1f, 1f}, {1.5f, -0.25f}}) {
            try (TensorScope scope = TensorScope.open()) {
                long[] xs = new long[sizes.length];
                long[] ys = new long[sizes.length];
                long[] refs = new long[sizes.length];
                long[] cpuYs = new long[sizes.length];
                long[] cpuRefs = new long[sizes.length];
                Tensor[][] t = new Tensor[sizes.length][];
                for (int i = 0; i < sizes.length; i++) {
                    Tensor x = randn(r, sizes[i]);
                    Tensor y = ab[1] == 0f ? nan(sizes[i]) : randn(r, sizes[i]);
                    t[i] = new Tensor[] {x, y, y.copy(), y.copy(), y.copy()};
                    xs[i] = x.address();
                    ys[i] = y.address();
                    refs[i] = t[i][2].address();
                    cpuYs[i] = t[i][3].address();
                    cpuRefs[i] = t[i][4].address();
                    ok(NativeCore.sev_hostrun_axpby(ab[0], xs[i], ab[1], refs[i], sizes[i]), "hostrun axpby");
                    ok(NativeCore.sev_axpby(ab[0], xs[i], ab[1], cpuRefs[i], sizes[i]), "axpby");
                }
                ok(NativeCore.sev_hostrun_axpby_list(ab[0], xs, ab[1], ys, sizes, sizes.length), "hostrun axpby list");
                ok(NativeCore.sev_axpby_all(ab[0], xs, ab[1], cpuYs, sizes, sizes.length), "axpby_all");
                for (int i = 0; i < sizes.length; i++) {
                    String what = " alpha " + ab[0] + " beta " + ab[1] + " tensor " + i + " (" + sizes[i] + ")";
                    assertBitwise(t[i][2], t[i][1], "list kernel" + what);
                    assertBitwise(t[i][4], t[i][3], "sev_axpby_all" + what);
                }
            }
        }
        assertTrue(NativeCore.sev_hostrun_axpby_list(1f, new long[0], 1f, new long[0], new long[0], -1) != 0,
                "a negative count is refused");
        assertTrue(NativeCore.sev_hostrun_axpby_list(1f, new long[] {0}, 1f, new long[] {0}, new long[] {4}, 1) != 0,
                "a null tensor of 4 elements is refused");
    }

    @Test
    void dropoutMaskIsExactlyTheCpuMask() {
        Random r = new Random(13);
        for (long n : SIZES) {
            for (float p : new float[] {0f, 0.1f, 0.5f, 0.9f, 1f}) {
                for (long seed : new long[] {0L, 42L, -7L, 0x9e3779b97f4a7c15L}) {
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor x = randn(r, n);
                        Tensor yRef = nan(n);
                        Tensor mRef = nan(n);
                        Tensor y = nan(n);
                        Tensor m = nan(n);
                        ok(NativeCore.sev_dropout_forward(x.address(), yRef.address(), mRef.address(), n, p, seed),
                                "dropout");
                        ok(NativeCore.sev_hostrun_dropout_forward(x.address(), y.address(), m.address(), n, p, seed),
                                "hostrun dropout");
                        String what = " n=" + n + " p=" + p + " seed=" + seed;
                        assertArrayEquals(mRef.toFloatArray(), m.toFloatArray(), "dropout mask" + what);
                        assertArrayEquals(yRef.toFloatArray(), y.toFloatArray(), "dropout output" + what);
                    }
                }
            }
        }
    }

    @Test
    void dropoutKeepsAboutOneMinusP() {
        try (TensorScope scope = TensorScope.open()) {
            long n = 200_000;
            Tensor x = Tensor.full(Shape.of(n), 1f);
            Tensor y = nan(n);
            Tensor m = nan(n);
            ok(NativeCore.sev_hostrun_dropout_forward(x.address(), y.address(), m.address(), n, 0.3f, 5L), "dropout");
            long kept = 0;
            for (float v : m.toFloatArray()) {
                kept += v != 0f ? 1 : 0;
            }
            double frac = kept / (double) n;
            assertTrue(Math.abs(frac - 0.7) < 0.01, "kept fraction " + frac);
        }
    }

    /** The conv epilogue against the CPU conv: conv(x, w) + bias (+ ReLU) = bias_relu(conv(x, w)). */
    @Test
    void biasReluMatchesCpuConvEpilogue() {
        Random r = new Random(14);
        int[][] shapes = {{1, 3, 5, 1, 7, 9}, {2, 4, 33, 3, 5, 7}, {3, 2, 1, 1, 1, 1}};  // n, cin, cout, t, h, w
        for (int[] s : shapes) {
            for (int relu = 0; relu < 2; relu++) {
                try (TensorScope scope = TensorScope.open()) {
                    int n = s[0], cin = s[1], cout = s[2], t = s[3], h = s[4], w = s[5];
                    Tensor x = randn(r, n, cin, t, h, w);
                    Tensor k = randn(r, cout, cin, 1, 1, 1);
                    Tensor bias = randn(r, cout);
                    int[] p = ConvSpec.of(1).nativeParams(x.shape(), cout);
                    long out = (long) n * cout * t * h * w;
                    Tensor ref = nan(out);
                    Tensor got = nan(out);
                    ok(NativeCore.sev_conv3d_forward(x.address(), k.address(), bias.address(), ref.address(), p, relu),
                            "conv with bias");
                    ok(NativeCore.sev_conv3d_forward(x.address(), k.address(), 0L, got.address(), p, 0), "conv");
                    ok(NativeCore.sev_hostrun_bias_relu(got.address(), bias.address(), n, cout, (long) t * h * w,
                            relu), "hostrun bias_relu");
                    assertClose(ref, got, 1e-5, 1e-6, "bias_relu relu=" + relu + " " + java.util.Arrays.toString(s));
                }
            }
        }
    }
}
