package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.assertBitwise;
import static dev.sevnet.kernels.KernelTestSupport.assertClose;
import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Channel concat / split / scale bodies (kernels/channels.cuh) run on the host, against the CPU ops. */
class ChannelsHostRunTest {
    // N, Ca, Cb, S: ragged, none a multiple of a block size; S smaller and larger than the 256-thread block
    private static final long[][] SHAPES = {{1, 1, 1, 1}, {3, 5, 7, 33}, {2, 4, 3, 257}, {1, 2, 9, 1031}};

    @Test
    void concatAndSplitMatchCpu() {
        Random r = new Random(21);
        for (long[] s : SHAPES) {
            long n = s[0], ca = s[1], cb = s[2], sp = s[3];
            try (TensorScope scope = TensorScope.open()) {
                Tensor a = randn(r, n, ca, sp);
                Tensor b = randn(r, n, cb, sp);
                Tensor ref = nan(n * (ca + cb) * sp);
                Tensor got = nan(n * (ca + cb) * sp);
                ok(NativeCore.sev_concat_channels(a.address(), b.address(), ref.address(), n, ca, cb, sp), "concat");
                ok(NativeCore.sev_hostrun_concat_channels(a.address(), b.address(), got.address(), n, ca, cb, sp),
                        "hostrun concat");
                assertBitwise(ref, got, "concat " + Arrays.toString(s));

                Tensor a2 = nan(n * ca * sp);
                Tensor b2 = nan(n * cb * sp);
                ok(NativeCore.sev_hostrun_split_channels(got.address(), a2.address(), b2.address(), n, ca, cb, sp),
                        "hostrun split");
                Tensor a3 = nan(n * ca * sp);
                Tensor b3 = nan(n * cb * sp);
                ok(NativeCore.sev_split_channels(got.address(), a3.address(), b3.address(), n, ca, cb, sp), "split");
                assertBitwise(a3, a2, "split a " + Arrays.toString(s));
                assertBitwise(b3, b2, "split b " + Arrays.toString(s));
                assertClose(a.toFloatArray(), a2.toFloatArray(), 0, 0, "split a round trip");
            }
        }
    }

    @Test
    void channelScaleForwardAndBackwardMatchCpu() {
        Random r = new Random(22);
        for (long[] s : SHAPES) {
            long n = s[0], c = s[1] + s[2], sp = s[3];
            long total = n * c * sp;
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, c, sp);
                Tensor g = randn(r, n, c);
                Tensor dy = randn(r, n, c, sp);
                Tensor ref = nan(total);
                Tensor got = nan(total);
                ok(NativeCore.sev_channel_scale_forward(x.address(), g.address(), ref.address(), n, c, sp), "fwd");
                ok(NativeCore.sev_hostrun_channel_scale_forward(x.address(), g.address(), got.address(), n, c, sp),
                        "hostrun fwd");
                assertBitwise(ref, got, "channel_scale_forward " + Arrays.toString(s));

                Tensor dgRef = nan(n * c);
                Tensor dg = nan(n * c);
                ok(NativeCore.sev_channel_scale_backward(x.address(), g.address(), dy.address(), ref.address(),
                        dgRef.address(), n, c, sp), "bwd");
                ok(NativeCore.sev_hostrun_channel_scale_backward(x.address(), g.address(), dy.address(), got.address(),
                        dg.address(), n, c, sp), "hostrun bwd");
                assertBitwise(ref, got, "channel_scale_backward dx " + Arrays.toString(s));
                // dg: a block reduction in double, a different order from the CPU's
                assertClose(dgRef, dg, 1e-6, 1e-6, "channel_scale_backward dg " + Arrays.toString(s));
            }
        }
    }
}
