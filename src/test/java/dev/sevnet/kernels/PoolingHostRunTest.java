package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.assertBitwise;
import static dev.sevnet.kernels.KernelTestSupport.assertClose;
import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.params;
import static dev.sevnet.kernels.KernelTestSupport.randn;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Pooling bodies (kernels/pooling.cuh) run on the host, against the CPU ops. */
class PoolingHostRunTest {
    @Test
    void avgPool3dForwardAndBackwardMatchCpu() {
        Random r = new Random(41);
        // {n, c, t, h, w}, kernel, stride, padding: the model's shortcut (1,3,3)/(1,2,2)/(0,1,1) on odd and even
        // sizes, a 3-d window with padding in time, stride 1, windows that overhang the end
        int[][][] cases = {
            {{2, 5, 3, 11, 13}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
            {{1, 3, 2, 8, 6}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
            {{2, 3, 7, 9, 10}, {3, 3, 2}, {2, 2, 1}, {1, 1, 0}},
            {{1, 2, 4, 5, 5}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}},
            {{1, 1, 1, 1, 1}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
            // strides of 3 and 4: pool_out_range's real divisions (1 and 2 go without)
            {{2, 3, 5, 10, 11}, {2, 3, 4}, {1, 3, 4}, {1, 1, 2}},
        };
        for (int[][] cs : cases) {
            int[] d = cs[0];
            int[] p = params(d[0], d[1], d[2], d[3], d[4], cs[1], cs[2], cs[3]);
            long in = (long) d[0] * d[1] * d[2] * d[3] * d[4];
            long out = (long) d[0] * d[1] * p[16] * p[17] * p[18];
            String what = Arrays.deepToString(cs);
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, in);
                Tensor yRef = nan(out);
                Tensor y = nan(out);
                ok(NativeCore.sev_avgpool3d_forward(x.address(), yRef.address(), p), "cpu");
                ok(NativeCore.sev_hostrun_avgpool3d_forward(x.address(), y.address(), p), "hostrun");
                assertBitwise(yRef, y, "avgpool3d forward " + what);

                Tensor dy = randn(r, out);
                Tensor dxRef = nan(in);
                Tensor dx = nan(in);
                ok(NativeCore.sev_avgpool3d_backward(dy.address(), dxRef.address(), p), "cpu");
                ok(NativeCore.sev_hostrun_avgpool3d_backward(dy.address(), dx.address(), p), "hostrun");
                // the gather adds each window's share in the order the CPU's scatter does
                assertBitwise(dxRef, dx, "avgpool3d backward " + what);
            }
        }
    }

    @Test
    void globalAvgPoolMatchesCpu() {
        Random r = new Random(42);
        long[][] shapes = {{1, 1, 1}, {3, 5, 77}, {2, 7, 255}, {2, 3, 257}, {1, 4, 3001}};
        for (long[] s : shapes) {
            long n = s[0], c = s[1], sp = s[2];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, c, sp);
                Tensor yRef = nan(n * c);
                Tensor y = nan(n * c);
                ok(NativeCore.sev_global_avgpool_forward(x.address(), yRef.address(), n, c, sp), "cpu");
                ok(NativeCore.sev_hostrun_global_avgpool_forward(x.address(), y.address(), n, c, sp), "hostrun");
                assertClose(yRef, y, 1e-6, 1e-7, "global avgpool forward " + Arrays.toString(s));

                Tensor dy = randn(r, n, c);
                Tensor dxRef = nan(n * c * sp);
                Tensor dx = nan(n * c * sp);
                ok(NativeCore.sev_global_avgpool_backward(dy.address(), dxRef.address(), n, c, sp), "cpu");
                ok(NativeCore.sev_hostrun_global_avgpool_backward(dy.address(), dx.address(), n, c, sp), "hostrun");
                assertBitwise(dxRef, dx, "global avgpool backward " + Arrays.toString(s));
            }
        }
    }
}
