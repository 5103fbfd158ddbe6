package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.assertClose;
import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CUDA temporal-conv kernels' bodies (kernels/temporal_conv.cuh: the tiled GEMMs, block by block and
 * thread by thread) run on the host, against the CPU conv3d with a 3x1x1 kernel and padding 1 in time:
 * forward, backward-data and backward-weight (split-K partials added in order).
 */
class TemporalConvHostRunTest {
    // n, c, t, h, w: one frame (both taps padding), ragged channel counts and H*W not multiples of 32,
    // more channels than one 64-wide tile (C = 70: two channel tiles, four tap-channel tiles)
    private static final int[][] SHAPES = {{1, 4, 3, 5, 7}, {2, 6, 8, 4, 4}, {1, 3, 1, 2, 3}, {2, 5, 2, 9, 11},
        {1, 17, 5, 3, 7}, {2, 70, 3, 5, 5}};
    private static final ConvSpec SPEC = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();

    @Test
    void forwardMatchesCpuConv() {
        Random r = new Random(7);
        for (int[] s : SHAPES) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, c, t, s[3], s[4]);
                Tensor k = randn(r, c, c, 3, 1, 1);
                int[] p = SPEC.nativeParams(x.shape(), c);
                Tensor ref = nan(x.size());
                Tensor y = nan(x.size());
                ok(NativeCore.sev_conv3d_forward(x.address(), k.address(), 0L, ref.address(), p, 0), "cpu");
                ok(NativeCore.sev_hostrun_temporal_conv3_forward(x.address(), k.address(), y.address(), n, c, t, sp),
                        "hostrun");
                assertClose(ref, y, 1e-4, 1e-5, "forward " + Arrays.toString(s));
            }
        }
    }

    @Test
    void backwardDataMatchesCpuConv() {
        Random r = new Random(8);
        for (int[] s : SHAPES) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor dy = randn(r, n, c, t, s[3], s[4]);
                Tensor k = randn(r, c, c, 3, 1, 1);
                int[] p = SPEC.nativeParams(dy.shape(), c);
                Tensor ref = nan(dy.size());
                Tensor dx = nan(dy.size());
                ok(NativeCore.sev_conv3d_backward_data(dy.address(), k.address(), ref.address(), p), "cpu");
                ok(NativeCore.sev_hostrun_temporal_conv3_backward_data(dy.address(), k.address(), dx.address(), n, c, t,
                        sp), "hostrun");
                assertClose(ref, dx, 1e-4, 1e-5, "backward data " + Arrays.toString(s));
            }
        }
    }

    @Test
    void backwardWeightMatchesCpuConv() {
        Random r = new Random(9);
        for (int[] s : SHAPES) {
            int n = s[0], c = s[1], t = s[2];
            long sp = (long) s[3] * s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, c, t, s[3], s[4]);
                Tensor dy = randn(r, n, c, t, s[3], s[4]);
                int[] p = SPEC.nativeParams(x.shape(), c);
                Tensor ref = nan((long) c * c * 3);
                Tensor dw = nan((long) c * c * 3);
                ok(NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), ref.address(), p), "cpu");
                ok(NativeCore.sev_hostrun_temporal_conv3_backward_weight(x.address(), dy.address(), dw.address(), n, c,
                        t, sp), "hostrun");
                // sums of N*T*H*W products in float, in different orders
                assertClose(ref, dw, 1e-4, 1e-4, "backward weight " + Arrays.toString(s));
            }
        }
    }
}
