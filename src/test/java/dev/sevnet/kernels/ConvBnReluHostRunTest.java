package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.assertClose;
import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static dev.sevnet.kernels.KernelTestSupport.uniform;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The fused conv -> BN -> ReLU kernels' bodies (kernels/conv_bn_relu.cuh: block by block, thread by thread,
 * the warp and block trees of the statistics in the device's order) run on the host, against the CPU ops
 * composed: sev_conv3d_forward (+ bias, ReLU), then sev_batchnorm_train_forward or sev_batchnorm_eval_forward,
 * sev_add, sev_relu_forward; backward sev_relu_backward then sev_batchnorm_backward; the grouped conv's
 * backward against sev_conv3d_backward_data / _weight.
 */
class ConvBnReluHostRunTest {
    private static final float EPS = 1e-5f;
    private static final float MOMENTUM = 0.1f;

    // grouped 1x3x3: n, c, cg, t, h, w, stride. Ragged planes (H, W not multiples of the 8/16/32-wide
    // tiles), one frame, tiny planes (several frames per block), g = 1, 3, 8, 16 channels per group, and
    // SEVNet-G8's stage shapes at batch 1 with two frames (64 at 56x56, the downsample 64 -> 28x28, 128 at
    // 28x28, 256 at 14x14 stride 2, 512 at 7x7)
    private static final int[][] GROUPED = {{1, 8, 1, 3, 5, 7, 1}, {2, 16, 8, 2, 9, 11, 2}, {1, 32, 16, 3, 13, 6, 1},
        {2, 48, 16, 1, 7, 7, 2}, {1, 24, 8, 5, 3, 3, 2}, {1, 9, 3, 2, 10, 17, 2}, {2, 4, 4, 1, 1, 1, 1},
        {1, 16, 16, 2, 33, 35, 2}, {1, 64, 8, 2, 56, 56, 1}, {1, 64, 8, 2, 56, 56, 2}, {1, 128, 8, 2, 28, 28, 1},
        {1, 256, 8, 2, 14, 14, 2}, {1, 512, 8, 2, 7, 7, 1}};
    // pointwise 1x1x1: n, cin, cout, t, h, w. Channels below and above one 64-row tile, ragged columns,
    // Cin != Cout (the R(2+1)D ablation's C -> C/2), the G8 stage-1 shape
    private static final int[][] POINTWISE = {{1, 5, 7, 1, 3, 11}, {2, 70, 130, 2, 5, 10}, {2, 64, 32, 3, 7, 7},
        {1, 17, 17, 1, 1, 1}, {2, 3, 65, 2, 9, 9}, {1, 64, 64, 2, 56, 56}};

    private static ConvSpec grouped(int c, int cg, int stride) {
        return ConvSpec.builder().kernel(1, 3, 3).stride(1, stride, stride).padding(0, 1, 1).groups(c / cg).build();
    }

    /** The CPU reference of conv -> BN (batch statistics) -> ReLU and everything the fused form writes. */
    private record TrainRef(Tensor z, Tensor y, Tensor mean, Tensor invstd, Tensor rm, Tensor rv) {
    }

    private static TrainRef cpuTrain(Tensor x, Tensor w, ConvSpec spec, long cout, Tensor gamma, Tensor beta,
            Tensor rm0, Tensor rv0, boolean relu) {
        Shape ys = spec.outputShape(x.shape(), cout);
        Tensor z = nan(ys.dims());
        ok(NativeCore.sev_conv3d_forward(x.address(), w.address(), 0L, z.address(), spec.nativeParams(x.shape(), cout), 0),
                "cpu conv");
        Tensor y = nan(ys.dims());
        Tensor mean = nan(cout);
        Tensor invstd = nan(cout);
        Tensor rm = rm0.copy();
        Tensor rv = rv0.copy();
        long n = ys.get(0), s = ys.sizeFrom(2);
        ok(NativeCore.sev_batchnorm_train_forward(z.address(), gamma.address(), beta.address(), y.address(),
                mean.address(), invstd.address(), rm.address(), rv.address(), n, cout, s, EPS, MOMENTUM), "cpu bn");
        if (relu) {
            ok(NativeCore.sev_relu_forward(y.address(), y.address(), y.size()), "cpu relu");
        }
        return new TrainRef(z, y, mean, invstd, rm, rv);
    }

    private static void compareTrain(TrainRef ref, TrainRef got, String what) {
        // z: sums of up to cg*9 (grouped) or Cin (pointwise) products in another order
        assertClose(ref.z(), got.z(), 1e-4, 1e-5, "z" + what);
        // statistics: double sums of (slightly different) z; E[z^2] - mean^2 against two passes
        assertClose(ref.mean(), got.mean(), 1e-5, 1e-6, "save_mean" + what);
        assertClose(ref.invstd(), got.invstd(), 1e-5, 0, "save_invstd" + what);
        assertClose(ref.rm(), got.rm(), 1e-5, 1e-6, "running_mean" + what);
        assertClose(ref.rv(), got.rv(), 1e-5, 0, "running_var" + what);
        assertClose(ref.y(), got.y(), 1e-4, 1e-5, "y" + what);
    }

    @Test
    void groupedForwardInferenceMatchesCpuConvThenBiasOrBatchNormEval() {
        Random r = new Random(41);
        for (int[] g : GROUPED) {
            int n = g[0], c = g[1], cg = g[2], t = g[3], h = g[4], wd = g[5], st = g[6];
            ConvSpec spec = grouped(c, cg, st);
            for (int relu = 0; relu < 2; relu++) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, n, c, t, h, wd);
                    Tensor w = randn(r, c, cg, 1, 3, 3);
                    Tensor bias = randn(r, c);
                    Shape ys = spec.outputShape(x.shape(), c);
                    int[] p = spec.nativeParams(x.shape(), c);
                    String what = " " + Arrays.toString(g) + " relu=" + relu;
                    // folded: conv + bias (+ ReLU)
                    Tensor ref = nan(ys.dims());
                    Tensor y = nan(ys.dims());
                    ok(NativeCore.sev_conv3d_forward(x.address(), w.address(), bias.address(), ref.address(), p, relu),
                            "cpu");
                    ok(NativeCore.sev_hostrun_grouped_conv3x3_forward(x.address(), w.address(), bias.address(), 0L, 0L,
                            0L, 0L, EPS, relu, y.address(), n, c, cg, t, h, wd, st), "hostrun");
                    assertClose(ref, y, 1e-4, 1e-5, "folded" + what);
                    // no bias
                    ok(NativeCore.sev_conv3d_forward(x.address(), w.address(), 0L, ref.address(), p, relu), "cpu");
                    ok(NativeCore.sev_hostrun_grouped_conv3x3_forward(x.address(), w.address(), 0L, 0L, 0L, 0L, 0L,
                            EPS, relu, y.address(), n, c, cg, t, h, wd, st), "hostrun");
                    assertClose(ref, y, 1e-4, 1e-5, "no bias" + what);
                    // BN with running statistics in the epilogue
                    Tensor gamma = randn(r, c);
                    Tensor beta = randn(r, c);
                    Tensor rm = randn(r, c);
                    Tensor rv = uniform(r, 0.5, 2, c);
                    Tensor z = nan(ys.dims());
                    ok(NativeCore.sev_conv3d_forward(x.address(), w.address(), 0L, z.address(), p, 0), "cpu");
                    ok(NativeCore.sev_batchnorm_eval_forward(z.address(), gamma.address(), beta.address(), rm.address(),
                            rv.address(), ref.address(), n, c, ys.sizeFrom(2), EPS, relu), "cpu bn");
                    ok(NativeCore.sev_hostrun_grouped_conv3x3_forward(x.address(), w.address(), 0L, gamma.address(),
                            beta.address(), rm.address(), rv.address(), EPS, relu, y.address(), n, c, cg, t, h, wd, st),
                            "hostrun");
                    assertClose(ref, y, 1e-4, 1e-4, "bn eval" + what);
                }
            }
        }
    }

    /**
     * The 16-bit inference form (x, w and y in bf16 / fp16): bit for bit the fp32 body on the widened x and w, its
     * result rounded once — the folded bias, the BN epilogue or none, with and without ReLU, every GROUPED shape
     * (ragged tiles, stride 2, cg 1..16).
     */
    @Test
    void groupedForwardInSixteenBitsIsTheFp32BodyRoundedOnce() {
        Random r = new Random(44);
        for (BatchNormHalfHostRunTest.Fmt f : BatchNormHalfHostRunTest.Fmt.values()) {
            for (int[] g : GROUPED) {
                int n = g[0], c = g[1], cg = g[2], t = g[3], h = g[4], wd = g[5], st = g[6];
                Shape ys = grouped(c, cg, st).outputShape(Shape.of(n, c, t, h, wd), c);
                for (int form = 0; form < 6; form++) {
                    int relu = form % 2;
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor x16 = BatchNormHalfHostRunTest.randn16(f, r, 0.0, 1.0, n, c, t, h, wd);
                        Tensor w16 = BatchNormHalfHostRunTest.randn16(f, r, 0.0, 0.3, c, cg, 1, 3, 3);
                        Tensor x32 = x16.toFloat32();
                        Tensor w32 = w16.toFloat32();
                        Tensor bias = form / 2 == 1 ? randn(r, c) : null;
                        boolean bn = form / 2 == 2;
                        Tensor gamma = bn ? randn(r, c) : null;
                        Tensor beta = bn ? randn(r, c) : null;
                        Tensor rm = bn ? randn(r, c) : null;
                        Tensor rv = bn ? uniform(r, 0.5, 2, c) : null;
                        Tensor y32 = nan(ys.dims());
                        Tensor y16 = Tensor.empty(ys, f.dtype);
                        ok(NativeCore.sev_hostrun_grouped_conv3x3_forward(x32.address(), w32.address(), addr(bias),
                                addr(gamma), addr(beta), addr(rm), addr(rv), EPS, relu, y32.address(), n, c, cg, t, h,
                                wd, st), "fp32 body");
                        long a = x16.address(), b = w16.address(), y = y16.address();
                        ok(f == BatchNormHalfHostRunTest.Fmt.BF16
                                ? NativeCore.sev_hostrun_grouped_conv3x3_forward_bf16(a, b, addr(bias), addr(gamma),
                                        addr(beta), addr(rm), addr(rv), EPS, relu, y, n, c, cg, t, h, wd, st)
                                : NativeCore.sev_hostrun_grouped_conv3x3_forward_f16(a, b, addr(bias), addr(gamma),
                                        addr(beta), addr(rm), addr(rv), EPS, relu, y, n, c, cg, t, h, wd, st),
                                "16-bit body");
                        assertRoundedOnce(f, y32, y16, f + " " + Arrays.toString(g) + " form " + form);
                    }
                }
            }
        }
    }

    private static long addr(Tensor t) {
        return t == null ? 0L : t.address();
    }

    @Test
    void groupedTrainingFormMatchesCpuConvThenBatchNormThenRelu() {
        Random r = new Random(42);
        for (int[] g : GROUPED) {
            int n = g[0], c = g[1], cg = g[2], t = g[3], h = g[4], wd = g[5], st = g[6];
            ConvSpec spec = grouped(c, cg, st);
            Shape ys = spec.outputShape(Shape.of(n, c, t, h, wd), c);
            if (ys.get(0) * ys.sizeFrom(2) <= 1) {
                continue; // BN needs two values per channel
            }
            for (boolean relu : new boolean[] {true, false}) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, n, c, t, h, wd);
                    Tensor w = randn(r, c, cg, 1, 3, 3);
                    // an offset in x: the conv outputs have a mean far from 0 (the statistics must not cancel)
                    float[] xs = x.toFloatArray();
                    for (int i = 0; i < xs.length; i++) {
                        xs[i] += 2f;
                    }
                    x = Tensor.of(xs, x.shape());
                    Tensor gamma = randn(r, c);
                    Tensor beta = randn(r, c);
                    Tensor rm0 = randn(r, c);
                    Tensor rv0 = uniform(r, 0.5, 1.5, c);
                    TrainRef ref = cpuTrain(x, w, spec, c, gamma, beta, rm0, rv0, relu);
                    TrainRef got = new TrainRef(nan(ys.dims()), nan(ys.dims()), nan(c), nan(c), rm0.copy(), rv0.copy());
                    ok(NativeCore.sev_hostrun_grouped_conv3x3_bn_train(x.address(), w.address(), gamma.address(),
                            beta.address(), got.z().address(), got.y().address(), got.mean().address(),
                            got.invstd().address(), got.rm().address(), got.rv().address(), EPS, MOMENTUM, relu ? 1 : 0,
                            n, c, cg, t, h, wd, st), "hostrun");
                    compareTrain(ref, got, " " + Arrays.toString(g) + " relu=" + relu);
                }
            }
        }
    }

    @Test
    void groupedBackwardDataMatchesCpuConv() {
        Random r = new Random(43);
        for (int[] g : GROUPED) {
            int n = g[0], c = g[1], cg = g[2], t = g[3], h = g[4], wd = g[5], st = g[6];
            ConvSpec spec = grouped(c, cg, st);
            try (TensorScope scope = TensorScope.open()) {
                Shape xs = Shape.of(n, c, t, h, wd);
                Tensor dy = randn(r, spec.outputShape(xs, c).dims());
                Tensor w = randn(r, c, cg, 1, 3, 3);
                Tensor ref = nan(xs.dims());
                Tensor dx = nan(xs.dims());
                ok(NativeCore.sev_conv3d_backward_data(dy.address(), w.address(), ref.address(),
                        spec.nativeParams(xs, c)), "cpu");
                ok(NativeCore.sev_hostrun_grouped_conv3x3_backward_data(dy.address(), w.address(), dx.address(), n, c,
                        cg, t, h, wd, st), "hostrun");
                assertClose(ref, dx, 1e-4, 1e-5, "backward data " + Arrays.toString(g));
            }
        }
    }

    /** The 16-bit backward-data (dy, w, dx in bf16 / fp16): bit for bit the fp32 body on the widened dy and w. */
    @Test
    void groupedBackwardDataInSixteenBitsIsTheFp32BodyRoundedOnce() {
        Random r = new Random(46);
        for (BatchNormHalfHostRunTest.Fmt f : BatchNormHalfHostRunTest.Fmt.values()) {
            for (int[] g : GROUPED) {
                int n = g[0], c = g[1], cg = g[2], t = g[3], h = g[4], wd = g[5], st = g[6];
                Shape xs = Shape.of(n, c, t, h, wd);
                Shape ys = grouped(c, cg, st).outputShape(xs, c);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor dy16 = BatchNormHalfHostRunTest.randn16(f, r, 0.0, 1.0, ys.dims());
                    Tensor w16 = BatchNormHalfHostRunTest.randn16(f, r, 0.0, 0.3, c, cg, 1, 3, 3);
                    Tensor dx32 = nan(xs.dims());
                    Tensor dx16 = Tensor.empty(xs, f.dtype);
                    ok(NativeCore.sev_hostrun_grouped_conv3x3_backward_data(dy16.toFloat32().address(),
                            w16.toFloat32().address(), dx32.address(), n, c, cg, t, h, wd, st), "fp32 body");
                    ok(f == BatchNormHalfHostRunTest.Fmt.BF16
                            ? NativeCore.sev_hostrun_grouped_conv3x3_backward_data_bf16(dy16.address(), w16.address(),
                                    dx16.address(), n, c, cg, t, h, wd, st)
                            : NativeCore.sev_hostrun_grouped_conv3x3_backward_data_f16(dy16.address(), w16.address(),
                                    dx16.address(), n, c, cg, t, h, wd, st), "16-bit body");
                    assertRoundedOnce(f, dx32, dx16, f + " backward data " + Arrays.toString(g));
                }
            }
        }
    }

    /** Every 16-bit value of {@code got16} is the fp32 value of {@code want32} rounded once. */
    private static void assertRoundedOnce(BatchNormHalfHostRunTest.Fmt f, Tensor want32, Tensor got16, String what) {
        float[] want = want32.toFloatArray();
        short[] got = BatchNormHalfHostRunTest.bits(got16);
        for (int i = 0; i < want.length; i++) {
            if (f.encode(want[i]) != got[i]) {
                throw new AssertionError(what + " [" + i + "]: fp32 body " + want[i] + " rounds to 0x"
                        + Integer.toHexString(f.encode(want[i]) & 0xffff) + ", 16-bit body gave 0x"
                        + Integer.toHexString(got[i] & 0xffff));
            }
        }
    }

    @Test
    void groupedBackwardWeightMatchesCpuConv() {
        Random r = new Random(44);
        for (int[] g : GROUPED) {
            int n = g[0], c = g[1], cg = g[2], t = g[3], h = g[4], wd = g[5], st = g[6];
            ConvSpec spec = grouped(c, cg, st);
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, c, t, h, wd);
                Tensor dy = randn(r, spec.outputShape(x.shape(), c).dims());
                Tensor ref = nan(c, cg, 1, 3, 3);
                Tensor dw = nan(c, cg, 1, 3, 3);
                ok(NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), ref.address(),
                        spec.nativeParams(x.shape(), c)), "cpu");
                ok(NativeCore.sev_hostrun_grouped_conv3x3_backward_weight(x.address(), dy.address(), dw.address(), n, c,
                        cg, t, h, wd, st), "hostrun");
                // sums over N*T*Ho*Wo products (up to 6272 here) in float, in different orders
                assertClose(ref, dw, 1e-4, 2e-4, "backward weight " + Arrays.toString(g));
            }
        }
    }

    @Test
    void pointwiseForwardInferenceMatchesCpuConvThenBiasOrBatchNormEval() {
        Random r = new Random(45);
        ConvSpec spec = ConvSpec.of(1);
        for (int[] q : POINTWISE) {
            int n = q[0], cin = q[1], cout = q[2];
            long s = (long) q[3] * q[4] * q[5];
            for (int relu = 0; relu < 2; relu++) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, n, cin, q[3], q[4], q[5]);
                    Tensor w = randn(r, cout, cin, 1, 1, 1);
                    Tensor bias = randn(r, cout);
                    Shape ys = spec.outputShape(x.shape(), cout);
                    int[] p = spec.nativeParams(x.shape(), cout);
                    String what = " " + Arrays.toString(q) + " relu=" + relu;
                    Tensor ref = nan(ys.dims());
                    Tensor y = nan(ys.dims());
                    ok(NativeCore.sev_conv3d_forward(x.address(), w.address(), bias.address(), ref.address(), p, relu),
                            "cpu");
                    ok(NativeCore.sev_hostrun_pointwise_conv_forward(x.address(), w.address(), bias.address(), 0L, 0L,
                            0L, 0L, EPS, relu, y.address(), n, cin, cout, s), "hostrun");
                    assertClose(ref, y, 1e-4, 1e-5, "folded" + what);
                    Tensor gamma = randn(r, cout);
                    Tensor beta = randn(r, cout);
                    Tensor rm = randn(r, cout);
                    Tensor rv = uniform(r, 0.5, 2, cout);
                    Tensor z = nan(ys.dims());
                    ok(NativeCore.sev_conv3d_forward(x.address(), w.address(), 0L, z.address(), p, 0), "cpu");
                    ok(NativeCore.sev_batchnorm_eval_forward(z.address(), gamma.address(), beta.address(), rm.address(),
                            rv.address(), ref.address(), n, cout, s, EPS, relu), "cpu bn");
                    ok(NativeCore.sev_hostrun_pointwise_conv_forward(x.address(), w.address(), 0L, gamma.address(),
                            beta.address(), rm.address(), rv.address(), EPS, relu, y.address(), n, cin, cout, s),
                            "hostrun");
                    assertClose(ref, y, 1e-4, 1e-4, "bn eval" + what);
                }
            }
        }
    }

    @Test
    void pointwiseTrainingFormMatchesCpuConvThenBatchNormThenRelu() {
        Random r = new Random(46);
        ConvSpec spec = ConvSpec.of(1);
        for (int[] q : POINTWISE) {
            int n = q[0], cin = q[1], cout = q[2];
            long s = (long) q[3] * q[4] * q[5];
            if (n * s <= 1) {
                continue;
            }
            for (boolean relu : new boolean[] {true, false}) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = uniform(r, -0.5, 1.5, n, cin, q[3], q[4], q[5]); // mean 0.5: outputs off zero
                    Tensor w = randn(r, cout, cin, 1, 1, 1);
                    Tensor gamma = randn(r, cout);
                    Tensor beta = randn(r, cout);
                    Tensor rm0 = randn(r, cout);
                    Tensor rv0 = uniform(r, 0.5, 1.5, cout);
                    TrainRef ref = cpuTrain(x, w, spec, cout, gamma, beta, rm0, rv0, relu);
                    Shape ys = ref.z().shape();
                    TrainRef got = new TrainRef(nan(ys.dims()), nan(ys.dims()), nan(cout), nan(cout), rm0.copy(),
                            rv0.copy());
                    ok(NativeCore.sev_hostrun_pointwise_conv_bn_train(x.address(), w.address(), gamma.address(),
                            beta.address(), got.z().address(), got.y().address(), got.mean().address(),
                            got.invstd().address(), got.rm().address(), got.rv().address(), EPS, MOMENTUM, relu ? 1 : 0,
                            n, cin, cout, s), "hostrun");
                    compareTrain(ref, got, " " + Arrays.toString(q) + " relu=" + relu);
                }
            }
        }
    }

    // batch-norm glue: N, C, S. One value per block and thousands, C above 2048 (one split per channel)
    private static final long[][] BN = {{2, 3, 1}, {3, 5, 77}, {2, 4, 4099}, {8, 64, 2 * 28 * 28}, {2, 2100, 3},
        {1, 7, 20000}};

    @Test
    void bnActForwardMatchesCpuBatchNormThenAddThenRelu() {
        Random r = new Random(47);
        for (long[] d : BN) {
            long n = d[0], c = d[1], s = d[2];
            for (int variant = 0; variant < 4; variant++) {
                boolean relu = (variant & 1) != 0;
                boolean residual = (variant & 2) != 0;
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, 2.0, n, c, s);
                    float[] xs = x.toFloatArray();
                    for (int i = 0; i < xs.length; i++) {
                        xs[i] += 3f;
                    }
                    x = Tensor.of(xs, x.shape());
                    Tensor res = residual ? randn(r, n, c, s) : null;
                    Tensor gamma = randn(r, c);
                    Tensor beta = randn(r, c);
                    Tensor rm0 = randn(r, c);
                    Tensor rv0 = uniform(r, 0.5, 1.5, c);
                    TrainRef ref = new TrainRef(x, nan(n, c, s), nan(c), nan(c), rm0.copy(), rv0.copy());
                    ok(NativeCore.sev_batchnorm_train_forward(x.address(), gamma.address(), beta.address(),
                            ref.y().address(), ref.mean().address(), ref.invstd().address(), ref.rm().address(),
                            ref.rv().address(), n, c, s, EPS, MOMENTUM), "cpu bn");
                    if (residual) {
                        ok(NativeCore.sev_add(ref.y().address(), res.address(), ref.y().address(), x.size()), "cpu add");
                    }
                    if (relu) {
                        ok(NativeCore.sev_relu_forward(ref.y().address(), ref.y().address(), x.size()), "cpu relu");
                    }
                    TrainRef got = new TrainRef(x, nan(n, c, s), nan(c), nan(c), rm0.copy(), rv0.copy());
                    ok(NativeCore.sev_hostrun_bn_act_train_forward(x.address(), res == null ? 0L : res.address(),
                            gamma.address(), beta.address(), got.y().address(), got.mean().address(),
                            got.invstd().address(), got.rm().address(), got.rv().address(), n, c, s, EPS, MOMENTUM,
                            relu ? 1 : 0), "hostrun");
                    compareTrain(ref, got, " " + Arrays.toString(d) + " relu=" + relu + " residual=" + residual);
                }
            }
        }
    }

    @Test
    void bnActBackwardMatchesCpuReluBackwardThenBatchNormBackward() {
        Random r = new Random(48);
        for (long[] d : BN) {
            long n = d[0], c = d[1], s = d[2];
            for (boolean relu : new boolean[] {true, false}) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, n, c, s);
                    Tensor dy = randn(r, n, c, s);
                    Tensor gamma = randn(r, c);
                    Tensor beta = randn(r, c);
                    Tensor mean = nan(c);
                    Tensor invstd = nan(c);
                    Tensor y = nan(n, c, s);
                    ok(NativeCore.sev_batchnorm_train_forward(x.address(), gamma.address(), beta.address(), y.address(),
                            mean.address(), invstd.address(), 0L, 0L, n, c, s, EPS, MOMENTUM), "statistics");
                    ok(NativeCore.sev_relu_forward(y.address(), y.address(), y.size()), "relu");
                    Tensor g = relu ? nan(n, c, s) : dy;
                    if (relu) {
                        ok(NativeCore.sev_relu_backward(y.address(), dy.address(), g.address(), y.size()), "cpu relu bwd");
                    }
                    Tensor dxRef = nan(n, c, s);
                    Tensor dgRef = nan(c);
                    Tensor dbRef = nan(c);
                    ok(NativeCore.sev_batchnorm_backward(x.address(), g.address(), gamma.address(), mean.address(),
                            invstd.address(), dxRef.address(), dgRef.address(), dbRef.address(), n, c, s), "cpu bn bwd");
                    Tensor dx = nan(n, c, s);
                    Tensor dg = nan(c);
                    Tensor db = nan(c);
                    Tensor dres = nan(n, c, s);
                    ok(NativeCore.sev_hostrun_bn_act_backward(x.address(), relu ? y.address() : 0L, dy.address(),
                            gamma.address(), mean.address(), invstd.address(), dx.address(), dg.address(), db.address(),
                            dres.address(), n, c, s), "hostrun");
                    String what = " " + Arrays.toString(d) + " relu=" + relu;
                    assertClose(dgRef, dg, 1e-5, 1e-5, "dgamma" + what);
                    assertClose(dbRef, db, 1e-5, 1e-5, "dbeta" + what);
                    assertClose(dxRef, dx, 1e-4, 1e-5, "dx" + what);
                    KernelTestSupport.assertBitwise(g, dres, "dresidual" + what);
                    // no gamma, no parameter gradients, no residual
                    ok(NativeCore.sev_batchnorm_backward(x.address(), g.address(), 0L, mean.address(), invstd.address(),
                            dxRef.address(), 0L, 0L, n, c, s), "cpu bn bwd");
                    ok(NativeCore.sev_hostrun_bn_act_backward(x.address(), relu ? y.address() : 0L, dy.address(), 0L,
                            mean.address(), invstd.address(), dx.address(), 0L, 0L, 0L, n, c, s), "hostrun");
                    assertClose(dxRef, dx, 1e-4, 1e-5, "dx (no gamma)" + what);
                }
            }
        }
    }
}
