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
