package dev.sevnet.bench;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.RunnerException;

/**
 * The CPU half of the CUDA kernel suite, so it runs on every machine: each kernel's body driven on
 * the host ({@code sev_hostrun_*}, the same {@code __host__ __device__} arithmetic the GPU runs)
 * beside the CPU op it is tested against ({@code sev_*}), at a SEVNet-G8 stage-1 shape at batch 1
 * ([1, 64, 8, 56, 56] — one eighth of the GPU suite's frames/batch so a run stays short). The
 * host-run bodies are written for the GPU's parallelism, not the CPU's: the point is that they run
 * and check, and how their cost compares; the GPU figures are {@link CudaKernelsBench}.
 * Run: {@code java -cp <test classpath> dev.sevnet.bench.HostRunKernelsBench [jmh args]}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class HostRunKernelsBench {
    @Param({"cpu", "hostrun"})
    public String impl;

    static final int N = 1;
    static final int C = 64;
    static final int T = 8;
    static final int S = 56 * 56;
    static final int CG = 8; // the grouped 1x3x3 conv's channels per group (SEVNet-G8)

    Tensor x;
    Tensor dy;
    Tensor y;
    Tensor dx;
    Tensor w;
    Tensor dw;
    Tensor gamma;
    Tensor beta;
    Tensor mean;
    Tensor invstd;
    Tensor dg;
    Tensor db;
    Tensor rm;
    Tensor rv;
    Tensor wg;
    Tensor dwg;
    Tensor z;
    Tensor masked;
    // the channels-last temporal conv's bf16 operands ([N][T][S][C]; the fp32 ones reuse x, dy, w, y, dw)
    Tensor x16;
    Tensor dy16;
    Tensor w16;
    Tensor y16;
    Tensor wg16;
    Tensor dx16;

    @Setup(Level.Trial)
    public void setup() {
        Random r = new Random(1);
        Shape xs = Shape.of(N, C, T, 56, 56);
        x = rand(r, xs);
        dy = rand(r, xs);
        y = Tensor.empty(xs);
        dx = Tensor.empty(xs);
        w = rand(r, Shape.of(C, C, 3, 1, 1));
        dw = Tensor.empty(w.shape());
        gamma = rand(r, Shape.of(C));
        beta = rand(r, Shape.of(C));
        mean = Tensor.zeros(Shape.of(C));
        invstd = Tensor.full(Shape.of(C), 1f);
        dg = Tensor.empty(Shape.of(C));
        db = Tensor.empty(Shape.of(C));
        rm = Tensor.zeros(Shape.of(C));
        rv = Tensor.full(Shape.of(C), 1f);
        wg = rand(r, Shape.of(C, CG, 1, 3, 3));
        dwg = Tensor.empty(wg.shape());
        z = Tensor.empty(xs);
        masked = Tensor.empty(xs);
        x16 = bf16(x);
        dy16 = bf16(dy);
        w16 = bf16(w);
        y16 = Tensor.empty(xs, DType.BFLOAT16);
        wg16 = bf16(wg);
        dx16 = Tensor.empty(xs, DType.BFLOAT16);
    }

    /** t rounded to bf16 (raw bits, dtype BFLOAT16). */
    static Tensor bf16(Tensor t) {
        Tensor b = Tensor.empty(t.shape(), DType.BFLOAT16);
        java.nio.ByteBuffer bb = b.hostBuffer();
        for (int i = 0; i < t.size(); i++) {
            bb.putShort(2 * i, Half.floatToBf16(t.getFloat(i)));
        }
        return b;
    }

    static Tensor rand(Random r, Shape s) {
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, s);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, dy, y, dx, w, dw, gamma, beta, mean, invstd, dg, db, rm, rv, wg, dwg, z, masked,
            x16, dy16, w16, y16, wg16, dx16}) {
            t.close();
        }
    }

    private boolean host() {
        return impl.equals("hostrun");
    }

    @Benchmark
    public int temporalConvForward() {
        if (host()) {
            return NativeCore.sev_hostrun_temporal_conv3_forward(x.address(), w.address(), y.address(), N, C, T, S);
        }
        return NativeCore.sev_conv3d_forward(x.address(), w.address(), 0, y.address(), temporalParams(), 0);
    }

    @Benchmark
    public int temporalConvBackwardWeight() {
        if (host()) {
            return NativeCore.sev_hostrun_temporal_conv3_backward_weight(x.address(), dy.address(), dw.address(), N, C,
                    T, S);
        }
        return NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), dw.address(), temporalParams());
    }

    /**
     * The channels-last temporal conv (kernels/temporal_conv_ndhwc.cu), fp32 and bf16: the body against its CPU
     * reference (plain loops in double: the "cpu" figures are the reference's, not an optimized CPU conv).
     * x, dy, y are read as [N][T][S][C].
     */
    @Benchmark
    public int temporalConvNdhwcForwardF32() {
        if (host()) {
            return NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_f32(x.address(), w.address(), y.address(), N, C,
                    T, S);
        }
        return NativeCore.sev_temporal_conv3_ndhwc_forward_f32(x.address(), w.address(), y.address(), N, C, T, S);
    }

    @Benchmark
    public int temporalConvNdhwcForwardBf16() {
        if (host()) {
            return NativeCore.sev_hostrun_temporal_conv3_ndhwc_forward_bf16(x16.address(), w16.address(), y16.address(),
                    N, C, T, S);
        }
        return NativeCore.sev_temporal_conv3_ndhwc_forward_bf16(x16.address(), w16.address(), y16.address(), N, C, T,
                S);
    }

    @Benchmark
    public int temporalConvNdhwcBackwardWeightBf16() {
        if (host()) {
            return NativeCore.sev_hostrun_temporal_conv3_ndhwc_backward_weight_bf16(x16.address(), dy16.address(),
                    dw.address(), N, C, T, S);
        }
        return NativeCore.sev_temporal_conv3_ndhwc_backward_weight_bf16(x16.address(), dy16.address(), dw.address(), N,
                C, T, S);
    }

    /**
     * The tensor-core channels-last temporal conv (kernels/temporal_conv_ndhwc_tc.cu), bf16 forward: the body (its
     * loads and epilogue, the WMMA as loops) against the same plain-loop reference (w read as KTRSC by the body).
     */
    @Benchmark
    public int temporalConvNdhwcTcForwardBf16() {
        if (host()) {
            return NativeCore.sev_hostrun_temporal_conv3_ndhwc_tc_forward(x16.address(), w16.address(), 0L, 0L, 0,
                    y16.address(), N, C, T, S, 1);
        }
        return NativeCore.sev_temporal_conv3_ndhwc_forward_bf16(x16.address(), w16.address(), y16.address(), N, C, T,
                S);
    }

    /**
     * The channels-last grouped 1x3x3 conv (kernels/grouped_conv_ndhwc.cu: x, dy, y, dx as [N][T][56][56][C], the
     * weight as KTRSC [C][3][3][8]), stride 1, against its plain-loop reference (as above, not an optimized CPU conv).
     */
    @Benchmark
    public int groupedConvNdhwcForwardF32() {
        if (host()) {
            return NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x.address(), wg.address(), 0L, 0L, 0, y.address(),
                    N, C, CG, T, 56, 56, 1, 0);
        }
        return NativeCore.sev_grouped_conv_ndhwc_forward(x.address(), wg.address(), y.address(), N, C, CG, T, 56, 56, 1,
                0);
    }

    @Benchmark
    public int groupedConvNdhwcForwardBf16() {
        if (host()) {
            return NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x16.address(), wg16.address(), 0L, 0L, 0,
                    y16.address(), N, C, CG, T, 56, 56, 1, 1);
        }
        return NativeCore.sev_grouped_conv_ndhwc_forward(x16.address(), wg16.address(), y16.address(), N, C, CG, T, 56,
                56, 1, 1);
    }

    @Benchmark
    public int groupedConvNdhwcBackwardData() {
        if (host()) {
            return NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_data(dy.address(), wg.address(), dx.address(), N,
                    C, CG, T, 56, 56, 1, 0);
        }
        return NativeCore.sev_grouped_conv_ndhwc_backward_data(dy.address(), wg.address(), dx.address(), N, C, CG, T,
                56, 56, 1, 0);
    }

    @Benchmark
    public int groupedConvNdhwcBackwardWeight() {
        if (host()) {
            return NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_weight(x.address(), dy.address(), dwg.address(), N,
                    C, CG, T, 56, 56, 1, 0);
        }
        return NativeCore.sev_grouped_conv_ndhwc_backward_weight(x.address(), dy.address(), dwg.address(), N, C, CG, T,
                56, 56, 1, 0);
    }

    @Benchmark
    public int batchNormTrainForward() {
        if (host()) {
            return NativeCore.sev_hostrun_batchnorm_train_forward(x.address(), gamma.address(), beta.address(),
                    y.address(), mean.address(), invstd.address(), rm.address(), rv.address(), N, C, (long) T * S, 1e-5f,
                    0.1f);
        }
        return NativeCore.sev_batchnorm_train_forward(x.address(), gamma.address(), beta.address(), y.address(),
                mean.address(), invstd.address(), rm.address(), rv.address(), N, C, (long) T * S, 1e-5f, 0.1f);
    }

    @Benchmark
    public int batchNormBackward() {
        if (host()) {
            return NativeCore.sev_hostrun_batchnorm_backward(x.address(), dy.address(), gamma.address(),
                    mean.address(), invstd.address(), dx.address(), dg.address(), db.address(), N, C, (long) T * S);
        }
        return NativeCore.sev_batchnorm_backward(x.address(), dy.address(), gamma.address(), mean.address(),
                invstd.address(), dx.address(), dg.address(), db.address(), N, C, (long) T * S);
    }

    @Benchmark
    public int addRelu() {
        long n = (long) N * C * T * S;
        if (host()) {
            return NativeCore.sev_hostrun_add_relu(x.address(), dy.address(), y.address(), n);
        }
        return NativeCore.sev_add_relu(x.address(), dy.address(), y.address(), n);
    }

    /** The block's grouped 1x3x3 conv -> BN -> ReLU, training form: one fused body against the three CPU ops. */
    @Benchmark
    public int groupedConvBnReluTrain() {
        if (host()) {
            return NativeCore.sev_hostrun_grouped_conv3x3_bn_train(x.address(), wg.address(), gamma.address(),
                    beta.address(), z.address(), y.address(), mean.address(), invstd.address(), rm.address(),
                    rv.address(), 1e-5f, 0.1f, 1, N, C, CG, T, 56, 56, 1);
        }
        int rc = NativeCore.sev_conv3d_forward(x.address(), wg.address(), 0, z.address(), groupedParams(), 0);
        rc |= NativeCore.sev_batchnorm_train_forward(z.address(), gamma.address(), beta.address(), y.address(),
                mean.address(), invstd.address(), rm.address(), rv.address(), N, C, (long) T * S, 1e-5f, 0.1f);
        return rc | NativeCore.sev_relu_forward(y.address(), y.address(), (long) N * C * T * S);
    }

    @Benchmark
    public int groupedConvBackwardWeight() {
        if (host()) {
            return NativeCore.sev_hostrun_grouped_conv3x3_backward_weight(x.address(), dy.address(), dwg.address(), N,
                    C, CG, T, 56, 56, 1);
        }
        return NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), dwg.address(), groupedParams());
    }

    /** BN + ReLU backward: the fused body (two passes) against ReLU backward then BN backward. */
    @Benchmark
    public int batchNormReluBackward() {
        if (host()) {
            return NativeCore.sev_hostrun_bn_act_backward(z.address(), y.address(), dy.address(), gamma.address(),
                    mean.address(), invstd.address(), dx.address(), dg.address(), db.address(), 0L, N, C, (long) T * S);
        }
        int rc = NativeCore.sev_relu_backward(y.address(), dy.address(), masked.address(), (long) N * C * T * S);
        return rc | NativeCore.sev_batchnorm_backward(z.address(), masked.address(), gamma.address(), mean.address(),
                invstd.address(), dx.address(), dg.address(), db.address(), N, C, (long) T * S);
    }

    /**
     * The grouped 1x3x3 conv's 16-bit inference form (bf16 x, w, y; bias + ReLU inside) against the fp32 CPU conv with
     * the same epilogue, the arithmetic the 16-bit result is that of (rounded once).
     */
    @Benchmark
    public int groupedConvForwardBf16() {
        if (host()) {
            return NativeCore.sev_hostrun_grouped_conv3x3_forward_bf16(x16.address(), wg16.address(), beta.address(),
                    0L, 0L, 0L, 0L, 1e-5f, 1, y16.address(), N, C, CG, T, 56, 56, 1);
        }
        return NativeCore.sev_conv3d_forward(x.address(), wg.address(), beta.address(), y.address(), groupedParams(),
                1);
    }

    /** The grouped 1x3x3 conv's 16-bit backward-data (bf16 dy, w, dx) against the fp32 CPU backward-data. */
    @Benchmark
    public int groupedConvBackwardDataBf16() {
        if (host()) {
            return NativeCore.sev_hostrun_grouped_conv3x3_backward_data_bf16(dy16.address(), wg16.address(),
                    dx16.address(), N, C, CG, T, 56, 56, 1);
        }
        return NativeCore.sev_conv3d_backward_data(dy.address(), wg.address(), dx.address(), groupedParams());
    }

    // ---- the channels-last kernels (kernels/batchnorm_ndhwc.cu, kernels/channels_ndhwc.cu): x, dy, y, dx reused as
    // [N][T*S][C] buffers (the same element count); the CPU side is their reference (transpose, NCDHW op, transpose)

    /** BN + ReLU training forward, channels-last: the column-reduction body against the transposed reference. */
    @Benchmark
    public int batchNormReluTrainForwardNdhwc() {
        long m = (long) N * T * S;
        if (host()) {
            return NativeCore.sev_hostrun_bn_act_train_forward_ndhwc_f32(x.address(), 0L, gamma.address(),
                    beta.address(), y.address(), mean.address(), invstd.address(), rm.address(), rv.address(), m, C,
                    1e-5f, 0.1f, 1);
        }
        return NativeCore.sev_bn_act_train_forward_ndhwc_f32(x.address(), 0L, gamma.address(), beta.address(),
                y.address(), mean.address(), invstd.address(), rm.address(), rv.address(), m, C, 1e-5f, 0.1f, 1);
    }

    @Benchmark
    public int batchNormReluBackwardNdhwc() {
        long m = (long) N * T * S;
        if (host()) {
            return NativeCore.sev_hostrun_bn_act_backward_ndhwc_f32(x.address(), y.address(), dy.address(),
                    gamma.address(), mean.address(), invstd.address(), dx.address(), dg.address(), db.address(), 0L, m,
                    C);
        }
        return NativeCore.sev_bn_act_backward_ndhwc_f32(x.address(), y.address(), dy.address(), gamma.address(),
                mean.address(), invstd.address(), dx.address(), dg.address(), db.address(), 0L, m, C);
    }

    /** The reorder of a clip's activations to NDHWC: the tiled-transpose body against the plain loop. */
    @Benchmark
    public int reorderToNdhwc() {
        if (host()) {
            return NativeCore.sev_hostrun_ncdhw_to_ndhwc(x.address(), y.address(), N, C, (long) T * S, 4);
        }
        return NativeCore.sev_ncdhw_to_ndhwc(x.address(), y.address(), N, C, (long) T * S);
    }

    /** Global average pool of channels-last activations (the SE squeeze and the head's pool). */
    @Benchmark
    public int globalAvgPoolNdhwc() {
        if (host()) {
            return NativeCore.sev_hostrun_global_avgpool_ndhwc_forward(x.address(), mean.address(), N, C, (long) T * S,
                    0);
        }
        return NativeCore.sev_global_avgpool_ndhwc_forward(x.address(), mean.address(), N, C, (long) T * S, 0);
    }

    private static int[] groupedParams() {
        return new int[] {N, C, T, 56, 56, C, 1, 3, 3, 1, 1, 1, 0, 1, 1, C / CG, T, 56, 56};
    }

    private static int[] temporalParams() {
        return new int[] {N, C, T, 56, 56, C, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, T, 56, 56};
    }

    public static void main(String[] args) throws RunnerException {
        JmhMain.run(HostRunKernelsBench.class, args);
    }
}
