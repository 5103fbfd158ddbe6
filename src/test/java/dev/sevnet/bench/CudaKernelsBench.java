package dev.sevnet.bench;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cuda.ConvAlgorithmCache;
import dev.sevnet.backend.cuda.CudaBackend;
import dev.sevnet.backend.cuda.CudaKernels;
import dev.sevnet.backend.cuda.CudaRuntime;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.Locale;
import java.util.Random;
import java.util.function.Supplier;

/**
 * The sevnet CUDA kernels against the cuDNN calls they replace, at SEVNet-G8's real layer shapes
 * (16x224x224 input, batch 8): the temporal 3x1x1 conv (forward, backward-data, backward-weight)
 * and batch norm (training forward, backward, eval + ReLU); then the fused conv -> BN -> ReLU kernels
 * (kernels/conv_bn_relu.cu: the block's 1x1x1 and grouped 1x3x3 convs with BN + ReLU in training and
 * inference form, the grouped conv's backward, BN + ReLU (+ residual) forward and backward) against
 * the library sequence each replaces (KernelMode LIBRARY: cuDNN conv, cuDNN BN, separate ReLU/add), and
 * the SGD step over all of SEVNet-G8's parameters in one launch against one launch per parameter; then the
 * channels-last temporal conv (kernels/temporal_conv_ndhwc.cu, fp32 and bf16, section {@code ndhwc}) against
 * the NCDHW temporal conv the backend runs today (KernelMode AUTO) and sevnet's NCDHW kernel (CUSTOM); then
 * the batch-norm glue in 16-bit storage (section {@code bnhalf}: sevc_bn_act_*_bf16/_f16 against the fp32 kernels);
 * then mixed-precision training's convolution backward passes and batch norm as CudaBackend runs them on bf16 /
 * fp16 tensors against fp32 (section {@code halftrain}); the channels-last grouped 1x3x3 conv by route, sevnet's
 * kernels/grouped_conv_ndhwc.cu among them (section {@code gcl}); the channels-last temporal 3x1x1 conv by route,
 * sevnet's CUDA-core and tensor-core kernels among them (section {@code tcl}).
 * Device time from CUDA events on the backend's stream (outputs come from the caching allocator, so
 * no cudaMalloc is timed); prints Markdown tables with ms, GB/s (the bytes each op must move at
 * least), TFLOP/s and the fraction of the device's peak. Run on a GPU machine:
 *
 * <pre>java -cp CLASSPATH dev.sevnet.bench.CudaKernelsBench [batch] [reps] [peakGBs] [peakTflops] [all|base|fused|ndhwc|bnhalf|halftrain|halfroutes|cl|lt|gcl|tcl]</pre>
 *
 * (defaults 8, 20, the device's peaks from its attributes — {@code DevicePeaks}; 0 takes them too — and all).
 */
public final class CudaKernelsBench {
    private CudaKernelsBench() {
    }

    public static void main(String[] args) {
        CudaRuntime.Status st = CudaRuntime.status();
        if (!st.usable() || !st.customKernels()) {
            System.err.println("no usable GPU: " + st.reason());
            System.exit(1);
        }
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        // a comma list of sections, or "all"
        java.util.Set<String> sections = java.util.Set.of((args.length > 4 ? args[4] : "all").split(","));
        CudaBackend gpu = CudaBackend.get(0);
        // the peaks: given, or this device's from its attributes (0 or absent), else the H200's figures used before
        dev.sevnet.backend.cuda.DevicePeaks dp = gpu.cudaDevice().peaks();
        double peakGBs = peak(args, 2, dp.memoryGBs(), 4300);
        double peakTf = peak(args, 3, dp.fp32Tflops(), 67);
        gpu.setAllowTf32(false);
        System.out.println("device: " + gpu.name() + "; cuDNN " + st.cudnnVersion() + "; batch " + batch + ", " + reps
                + " reps per figure; peaks " + dp.describe() + "; fractions of " + Math.round(peakGBs) + " GB/s and "
                + peakTf + " fp32 TFLOP/s");
        if (sections.contains("all") || sections.contains("base")) {
            baseKernels(gpu, batch, reps, peakGBs, peakTf);
        }
        if (sections.contains("all") || sections.contains("fused")) {
            fusedKernels(gpu, batch, reps, peakGBs, peakTf);
        }
        if (sections.contains("all") || sections.contains("ndhwc")) {
            ndhwcKernels(gpu, batch, reps, peakTf);
        }
        if (sections.contains("all") || sections.contains("bnhalf")) {
            bnHalfKernels(gpu, batch, reps, peakGBs);
        }
        if (sections.contains("all") || sections.contains("halftrain")) {
            halfTraining(gpu, batch, reps);
        }
        if (sections.contains("all") || sections.contains("halfroutes")) {
            halfGroupedRoutes(gpu, batch, reps);
        }
        if (sections.contains("all") || sections.contains("cl")) {
            channelsLastOps(gpu, batch, reps);
        }
        if (sections.contains("all") || sections.contains("lt")) {
            pointwiseEpilogueRoutes(gpu, batch, reps);
        }
        if (sections.contains("all") || sections.contains("gcl")) {
            groupedChannelsLastRoutes(gpu, batch, reps, peakGBs);
        }
        if (sections.contains("all") || sections.contains("tcl")) {
            temporalChannelsLastRoutes(gpu, batch, reps, peakGBs);
        }
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
    }

    /** args[i] when given and positive, else the device's figure when known, else {@code fallback}. */
    private static double peak(String[] args, int i, double device, double fallback) {
        double given = args.length > i ? Double.parseDouble(args[i]) : 0;
        return given > 0 ? given : Double.isFinite(device) ? device : fallback;
    }

    private static void baseKernels(CudaBackend gpu, int batch, int reps, double peakGBs, double peakTf) {
        System.out.println("| op | shape [N,C,T,H,W] | custom ms | cuDNN ms | custom/cuDNN | custom GB/s | custom % peak |");
        System.out.println("|---|---|---|---|---|---|---|");
        int[][] shapes = {{32, 56}, {64, 56}, {64, 28}, {128, 28}, {128, 14}, {256, 14}, {256, 7}, {512, 7}};
        ConvSpec temporal = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
        Random r = new Random(1);
        for (int[] cs : shapes) {
            int c = cs[0], hw = cs[1], t = 16;
            Shape xs = Shape.of(batch, c, t, hw, hw);
            try (Tensor x = rand(gpu, r, xs); Tensor dy = rand(gpu, r, xs); Tensor w = rand(gpu, r, Shape.of(c, c, 3, 1, 1));
                    Tensor g = rand(gpu, r, Shape.of(c)); Tensor b = rand(gpu, r, Shape.of(c));
                    Tensor rm = rand(gpu, r, Shape.of(c)); Tensor rv = gpu.toDevice(Tensor.full(Shape.of(c), 1f))) {
                double bytes = xs.size() * 4.0;
                double flops = 2.0 * xs.size() * c * 3;
                row(gpu, reps, "temporal conv fwd", xs, 2 * bytes, flops, peakGBs, peakTf,
                        () -> gpu.conv3d(x, w, null, temporal, false));
                row(gpu, reps, "temporal conv bwd-data", xs, 2 * bytes, flops, peakGBs, peakTf,
                        () -> gpu.conv3dBackwardData(dy, w, temporal, xs));
                row(gpu, reps, "temporal conv bwd-weight", xs, 2 * bytes, flops, peakGBs, peakTf,
                        () -> gpu.conv3dBackwardWeight(x, dy, temporal, w.shape()));
                row(gpu, reps, "BN train fwd", xs, 2 * bytes, 0, peakGBs, peakTf, () -> {
                    var res = gpu.batchNormTrain(x, g, b, rm, rv, 1e-5, 0.1);
                    res.saveMean().close();
                    res.saveInvstd().close();
                    return res.y();
                });
                try (Tensor mean = gpu.toDevice(Tensor.zeros(Shape.of(c))); Tensor inv = gpu.toDevice(Tensor.full(Shape.of(c), 1f))) {
                    row(gpu, reps, "BN backward", xs, 3 * bytes, 0, peakGBs, peakTf, () -> {
                        Tensor[] o = gpu.batchNormBackward(x, dy, g, mean, inv);
                        o[1].close();
                        o[2].close();
                        return o[0];
                    });
                }
                row(gpu, reps, "BN eval + ReLU", xs, 2 * bytes, 0, peakGBs, peakTf,
                        () -> gpu.batchNormEval(x, g, b, rm, rv, 1e-5, true));
            }
        }
    }

    /**
     * SEVNet-G8's block shapes (stage width C at H = W, the grouped conv's stride; stride 2 is the first
     * block of stages 2-4, whose grouped conv halves H and W), 16 frames, group width 8.
     */
    private static final int[][] G8_BLOCKS = {{64, 56, 1}, {64, 56, 2}, {128, 28, 1}, {128, 28, 2}, {256, 14, 1},
        {256, 14, 2}, {512, 7, 1}};

    private static void fusedKernels(CudaBackend gpu, int batch, int reps, double peakGBs, double peakTf) {
        System.out.println();
        System.out.println("fused conv -> BN -> ReLU (custom = KernelMode CUSTOM, kernels/conv_bn_relu.cu; library ="
                + " KernelMode LIBRARY, the sequence it replaces: cuDNN conv, cuDNN BN, ReLU/add kernels)");
        System.out.println("| op | input [N,C,T,H,W] | custom ms | library ms | custom/library | custom GB/s | custom % peak |");
        System.out.println("|---|---|---|---|---|---|---|");
        Random r = new Random(2);
        ConvSpec pointwise = ConvSpec.of(1);
        for (int[] blk : G8_BLOCKS) {
            int c = blk[0], hw = blk[1], stride = blk[2], t = 16, cg = 8;
            ConvSpec grouped = ConvSpec.builder().kernel(1, 3, 3).stride(1, stride, stride).padding(0, 1, 1)
                    .groups(c / cg).build();
            Shape xs = Shape.of(batch, c, t, hw, hw);
            Shape ys = grouped.outputShape(xs, c);
            try (Tensor x = rand(gpu, r, xs); Tensor dyg = rand(gpu, r, ys); Tensor wg = rand(gpu, r, Shape.of(c, cg, 1, 3, 3));
                    Tensor wp = rand(gpu, r, Shape.of(c, c, 1, 1, 1)); Tensor bias = rand(gpu, r, Shape.of(c));
                    Tensor g = rand(gpu, r, Shape.of(c)); Tensor b = rand(gpu, r, Shape.of(c));
                    Tensor rm = rand(gpu, r, Shape.of(c)); Tensor rv = gpu.toDevice(Tensor.full(Shape.of(c), 1f));
                    Tensor dyx = rand(gpu, r, xs)) {
                double xb = xs.size() * 4.0, yb = ys.size() * 4.0;
                double gflops = 2.0 * ys.size() * cg * 9;
                double pflops = 2.0 * xs.size() * c;
                if (stride == 1) {
                    rowRun(gpu, reps, "1x1x1 conv+BN+ReLU train fwd", xs, 3 * xb, pflops, peakGBs, peakTf,
                            () -> closeAll(gpu.convBatchNormTrain(x, wp, pointwise, g, b, rm, rv, 1e-5, 0.1, true)));
                    rowRun(gpu, reps, "1x1x1 conv+BN+ReLU eval", xs, 2 * xb, pflops, peakGBs, peakTf,
                            () -> gpu.convBatchNormEval(x, wp, pointwise, g, b, rm, rv, 1e-5, true).close());
                    rowRun(gpu, reps, "1x1x1 conv+bias+ReLU (folded)", xs, 2 * xb, pflops, peakGBs, peakTf,
                            () -> gpu.conv3d(x, wp, bias, pointwise, true).close());
                }
                String gname = "grouped 1x3x3" + (stride == 2 ? " s2" : "");
                rowRun(gpu, reps, gname + " conv+BN+ReLU train fwd", xs, xb + 2 * yb, gflops, peakGBs, peakTf,
                        () -> closeAll(gpu.convBatchNormTrain(x, wg, grouped, g, b, rm, rv, 1e-5, 0.1, true)));
                rowRun(gpu, reps, gname + " conv+BN+ReLU eval", xs, xb + yb, gflops, peakGBs, peakTf,
                        () -> gpu.convBatchNormEval(x, wg, grouped, g, b, rm, rv, 1e-5, true).close());
                rowRun(gpu, reps, gname + " conv+bias+ReLU (folded)", xs, xb + yb, gflops, peakGBs, peakTf,
                        () -> gpu.conv3d(x, wg, bias, grouped, true).close());
                rowRun(gpu, reps, gname + " conv bwd-data", xs, xb + yb, gflops, peakGBs, peakTf,
                        () -> gpu.conv3dBackwardData(dyg, wg, grouped, xs).close());
                rowRun(gpu, reps, gname + " conv bwd-weight", xs, xb + yb, gflops, peakGBs, peakTf,
                        () -> gpu.conv3dBackwardWeight(x, dyg, grouped, wg.shape()).close());
                if (stride == 1) {
                    // batch norm glue at the block's width: BN+ReLU backward after a conv, the block tail
                    // BN + residual + ReLU forward and backward
                    try (Tensor mean = gpu.toDevice(Tensor.zeros(Shape.of(c)));
                            Tensor inv = gpu.toDevice(Tensor.full(Shape.of(c), 1f)); Tensor y = gpu.relu(x)) {
                        rowRun(gpu, reps, "BN+ReLU bwd", xs, 4 * xb, 0, peakGBs, peakTf,
                                () -> closeAll(gpu.batchNormActBackward(x, y, dyx, g, mean, inv, true, false)));
                        rowRun(gpu, reps, "BN+add+ReLU train fwd", xs, 3 * xb, 0, peakGBs, peakTf, () -> {
                            var res = gpu.batchNormTrainAct(x, dyx, g, b, rm, rv, 1e-5, 0.1, true);
                            closeAll(res.y(), res.saveMean(), res.saveInvstd());
                        });
                        rowRun(gpu, reps, "BN+add+ReLU bwd", xs, 5 * xb, 0, peakGBs, peakTf,
                                () -> closeAll(gpu.batchNormActBackward(x, y, dyx, g, mean, inv, true, true)));
                    }
                }
            }
        }
        sgdRow(gpu, reps);
    }

    /**
     * SEVNet-G8's temporal 3x1x1 convs at 16 frames: the stem's (32 channels at 112^2) and each stage's, (width
     * C, H = W) as in {@link #baseKernels} (the downsample blocks' convs run at C_s/2 after the stride-2 conv).
     */
    private static final int[][] G8_TEMPORAL = {{32, 112}, {32, 56}, {64, 56}, {64, 28}, {128, 28}, {128, 14},
        {256, 14}, {256, 7}, {512, 7}};

    /**
     * The channels-last temporal conv kernels, called directly on the backend's stream (no backend op uses them
     * yet), fp32 and bf16, against the NCDHW conv of the same shape as the backend runs it now (AUTO: cuDNN
     * forward/backward-data, sevnet's backward-weight up to 128 channels) and sevnet's NCDHW kernel (CUSTOM).
     * TF32 off. % peak is of the fp32 (CUDA-core) peak: no kernel here uses tensor cores.
     */
    private static void ndhwcKernels(CudaBackend gpu, int batch, int reps, double peakTf) {
        System.out.println();
        System.out.println("channels-last temporal conv (kernels/temporal_conv_ndhwc.cu) vs the NCDHW one: AUTO = what"
                + " CudaBackend runs now, CUSTOM = sevnet's NCDHW kernel; fp32, TF32 off");
        System.out.println("| op | [N,C,T,H,W] | NDHWC fp32 ms | NDHWC bf16 ms | NCDHW AUTO ms | NCDHW CUSTOM ms "
                + "| bf16/AUTO | fp32/AUTO | bf16 TFLOP/s (% fp32 peak) |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        ConvSpec temporal = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
        Random r = new Random(3);
        long st = gpu.cudaDevice().streamAddress();
        for (int[] cs : G8_TEMPORAL) {
            int c = cs[0], hw = cs[1], t = 16;
            long s = (long) hw * hw;
            Shape xs = Shape.of(batch, c, t, hw, hw);
            Shape ws = Shape.of(c, c, 3, 1, 1);
            double flops = 2.0 * xs.size() * c * 3;
            try (Tensor x = rand(gpu, r, xs); Tensor dy = rand(gpu, r, xs); Tensor w = rand(gpu, r, ws);
                    Tensor x16 = randBf16(gpu, r, xs); Tensor dy16 = randBf16(gpu, r, xs);
                    Tensor w16 = randBf16(gpu, r, ws); Tensor y = gpu.allocate(xs, DType.FLOAT32);
                    Tensor y16 = gpu.allocate(xs, DType.BFLOAT16); Tensor dw = gpu.allocate(ws, DType.FLOAT32)) {
                int n = batch;
                double[] fwd = {
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_temporal_conv3_ndhwc_forward_f32(
                            x.address(), w.address(), y.address(), n, c, t, s, st))),
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_temporal_conv3_ndhwc_forward_bf16(
                            x16.address(), w16.address(), y16.address(), n, c, t, s, st))),
                    ncdhw(gpu, reps, CudaBackend.KernelMode.AUTO, () -> gpu.conv3d(x, w, null, temporal, false)),
                    ncdhw(gpu, reps, CudaBackend.KernelMode.CUSTOM, () -> gpu.conv3d(x, w, null, temporal, false))};
                ndhwcRow("fwd", xs, fwd, flops, peakTf);
                double[] bwd = {
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_temporal_conv3_ndhwc_backward_data_f32(
                            dy.address(), w.address(), y.address(), n, c, t, s, st))),
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_temporal_conv3_ndhwc_backward_data_bf16(
                            dy16.address(), w16.address(), y16.address(), n, c, t, s, st))),
                    ncdhw(gpu, reps, CudaBackend.KernelMode.AUTO, () -> gpu.conv3dBackwardData(dy, w, temporal, xs)),
                    ncdhw(gpu, reps, CudaBackend.KernelMode.CUSTOM, () -> gpu.conv3dBackwardData(dy, w, temporal, xs))};
                ndhwcRow("bwd-data", xs, bwd, flops, peakTf);
                double[] bww = {
                    gpu.cudaDevice().timeMillis(reps, () -> ok(
                            CudaKernels.sevc_temporal_conv3_ndhwc_backward_weight_f32(x.address(), dy.address(),
                                    dw.address(), n, c, t, s, st))),
                    gpu.cudaDevice().timeMillis(reps, () -> ok(
                            CudaKernels.sevc_temporal_conv3_ndhwc_backward_weight_bf16(x16.address(), dy16.address(),
                                    dw.address(), n, c, t, s, st))),
                    ncdhw(gpu, reps, CudaBackend.KernelMode.AUTO, () -> gpu.conv3dBackwardWeight(x, dy, temporal, ws)),
                    ncdhw(gpu, reps, CudaBackend.KernelMode.CUSTOM,
                            () -> gpu.conv3dBackwardWeight(x, dy, temporal, ws))};
                ndhwcRow("bwd-weight", xs, bww, flops, peakTf);
            }
        }
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
    }

    private static double ncdhw(CudaBackend gpu, int reps, CudaBackend.KernelMode mode, Supplier<Tensor> body) {
        gpu.setKernelMode(mode);
        return gpu.cudaDevice().timeMillis(reps, () -> body.get().close());
    }

    /** ms: NDHWC fp32, NDHWC bf16, NCDHW AUTO, NCDHW CUSTOM. */
    private static void ndhwcRow(String op, Shape s, double[] ms, double flops, double peakTf) {
        double tf = flops / (ms[1] * 1e-3) / 1e12;
        System.out.println(String.format(Locale.ROOT, "| temporal conv %s | %s | %.3f | %.3f | %.3f | %.3f | %.2fx | %.2fx "
                + "| %.1f (%.0f%%) |", op, s, ms[0], ms[1], ms[2], ms[3], ms[1] / ms[2], ms[0] / ms[2], tf,
                100 * tf / peakTf));
    }

    private static void ok(int rc) {
        if (rc != 0) {
            throw new IllegalStateException("kernel failed (" + rc + "): " + CudaKernels.sevc_last_error());
        }
    }

    /** Random values rounded to bf16, on the device (raw bits, dtype BFLOAT16). */
    private static Tensor randBf16(CudaBackend gpu, Random r, Shape s) {
        try (Tensor h = Tensor.empty(s, DType.BFLOAT16)) {
            java.nio.ByteBuffer b = h.hostBuffer();
            for (int i = 0; i < s.size(); i++) {
                b.putShort(2 * i, Half.floatToBf16((float) r.nextGaussian()));
            }
            return gpu.toDevice(h);
        }
    }

    /**
     * The batch-norm glue in 16-bit storage (kernels/conv_bn_relu.cu, bnx_* templates; not used by CudaBackend yet)
     * against the fp32 kernels, called directly on the backend's stream, at the standard blocks' BN shapes of the
     * {@code fused} section (width C at H = W, 16 frames): BN + residual + ReLU training forward, and its backward
     * with the ReLU mask and the residual's gradient. GB/s counts the bytes each must move at least (forward: x,
     * residual, y; backward: x, y, dy, dx, dresidual) at the storage size of the call.
     */
    private static void bnHalfKernels(CudaBackend gpu, int batch, int reps, double peakGBs) {
        System.out.println();
        System.out.println("batch norm + residual + ReLU in 16-bit storage (sevc_bn_act_*_bf16/_f16) vs fp32"
                + " (sevc_bn_act_*): statistics, parameters and gradients of gamma/beta fp32 in all three");
        System.out.println("| op | [N,C,T,H,W] | fp32 ms | bf16 ms | fp16 ms | bf16/fp32 | fp16/fp32 | bf16 GB/s "
                + "(% peak) |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        Random r = new Random(4);
        long st = gpu.cudaDevice().streamAddress();
        for (int[] blk : G8_BLOCKS) {
            if (blk[2] != 1) {
                continue;
            }
            int c = blk[0], hw = blk[1], t = 16;
            long n = batch, s = (long) t * hw * hw;
            Shape xs = Shape.of(batch, c, t, hw, hw);
            Shape cs = Shape.of(c);
            try (Tensor x = rand(gpu, r, xs); Tensor res = rand(gpu, r, xs); Tensor dy = rand(gpu, r, xs);
                    Tensor y = gpu.relu(x); Tensor dx = gpu.allocate(xs, DType.FLOAT32);
                    Tensor dres = gpu.allocate(xs, DType.FLOAT32);
                    Tensor xb = rand16(gpu, r, xs, DType.BFLOAT16); Tensor rb = rand16(gpu, r, xs, DType.BFLOAT16);
                    Tensor dyb = rand16(gpu, r, xs, DType.BFLOAT16); Tensor yb = gpu.allocate(xs, DType.BFLOAT16);
                    Tensor dxb = gpu.allocate(xs, DType.BFLOAT16); Tensor drb = gpu.allocate(xs, DType.BFLOAT16);
                    Tensor xh = rand16(gpu, r, xs, DType.FLOAT16); Tensor rh = rand16(gpu, r, xs, DType.FLOAT16);
                    Tensor dyh = rand16(gpu, r, xs, DType.FLOAT16); Tensor yh = gpu.allocate(xs, DType.FLOAT16);
                    Tensor dxh = gpu.allocate(xs, DType.FLOAT16); Tensor drh = gpu.allocate(xs, DType.FLOAT16);
                    Tensor g = rand(gpu, r, cs); Tensor b = rand(gpu, r, cs); Tensor rm = rand(gpu, r, cs);
                    Tensor rv = gpu.toDevice(Tensor.full(cs, 1f)); Tensor mean = gpu.allocate(cs, DType.FLOAT32);
                    Tensor inv = gpu.allocate(cs, DType.FLOAT32); Tensor dg = gpu.allocate(cs, DType.FLOAT32);
                    Tensor db = gpu.allocate(cs, DType.FLOAT32)) {
                // the 16-bit y the backward reads: each format's forward output (statistics only feed the timing)
                ok(CudaKernels.sevc_bn_act_train_forward_bf16(xb.address(), rb.address(), g.address(), b.address(),
                        yb.address(), mean.address(), inv.address(), 0L, 0L, n, c, s, 1e-5f, 0.1f, 1, st));
                ok(CudaKernels.sevc_bn_act_train_forward_f16(xh.address(), rh.address(), g.address(), b.address(),
                        yh.address(), mean.address(), inv.address(), 0L, 0L, n, c, s, 1e-5f, 0.1f, 1, st));
                double[] fwd = {
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_bn_act_train_forward(x.address(),
                            res.address(), g.address(), b.address(), y.address(), mean.address(), inv.address(),
                            rm.address(), rv.address(), n, c, s, 1e-5f, 0.1f, 1, st))),
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_bn_act_train_forward_bf16(xb.address(),
                            rb.address(), g.address(), b.address(), yb.address(), mean.address(), inv.address(),
                            rm.address(), rv.address(), n, c, s, 1e-5f, 0.1f, 1, st))),
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_bn_act_train_forward_f16(xh.address(),
                            rh.address(), g.address(), b.address(), yh.address(), mean.address(), inv.address(),
                            rm.address(), rv.address(), n, c, s, 1e-5f, 0.1f, 1, st)))};
                bnHalfRow("BN+add+ReLU train fwd", xs, fwd, 3.0 * xs.size(), peakGBs);
                double[] bwd = {
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_bn_act_backward(x.address(),
                            y.address(), dy.address(), g.address(), mean.address(), inv.address(), dx.address(),
                            dg.address(), db.address(), dres.address(), n, c, s, st))),
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_bn_act_backward_bf16(xb.address(),
                            yb.address(), dyb.address(), g.address(), mean.address(), inv.address(), dxb.address(),
                            dg.address(), db.address(), drb.address(), n, c, s, st))),
                    gpu.cudaDevice().timeMillis(reps, () -> ok(CudaKernels.sevc_bn_act_backward_f16(xh.address(),
                            yh.address(), dyh.address(), g.address(), mean.address(), inv.address(), dxh.address(),
                            dg.address(), db.address(), drh.address(), n, c, s, st)))};
                bnHalfRow("BN+add+ReLU bwd", xs, bwd, 5.0 * xs.size(), peakGBs);
            }
        }
    }

    /** ms: fp32, bf16, fp16; elements: the tensor elements the op must move at least. */
    private static void bnHalfRow(String op, Shape s, double[] ms, double elements, double peakGBs) {
        double gbs = elements * 2 / (ms[1] * 1e-3) / 1e9;
        System.out.println(String.format(Locale.ROOT, "| %s | %s | %.3f | %.3f | %.3f | %.2fx | %.2fx | %.0f (%.0f%%) |",
                op, s, ms[0], ms[1], ms[2], ms[1] / ms[0], ms[2] / ms[0], gbs, 100 * gbs / peakGBs));
    }

    /** Random values rounded to bf16 or fp16, on the device (raw bits). */
    private static Tensor rand16(CudaBackend gpu, Random r, Shape s, DType dt) {
        try (Tensor h = Tensor.empty(s, dt)) {
            java.nio.ByteBuffer b = h.hostBuffer();
            for (int i = 0; i < s.size(); i++) {
                float v = (float) r.nextGaussian();
                b.putShort(2 * i, dt == DType.BFLOAT16 ? Half.floatToBf16(v) : Half.fromFloat(v));
            }
            return gpu.toDevice(h);
        }
    }

    // ---- section halftrain: mixed-precision training's 16-bit ops as CudaBackend runs them ----------------------

    /**
     * Mixed-precision training on the GPU at SEVNet-G8's block shapes (16 frames, the stage's plane, batch
     * {@code batch}): the backward passes of the block's three convs (1x1x1, grouped 1x3x3 with 8 channels per group,
     * stride 1 or 2; temporal 3x1x1 on the conv's output plane) — CudaBackend's {@code conv3dBackwardData} /
     * {@code conv3dBackwardWeight}, in 16 bits always cuDNN (PSEUDO_BFLOAT16 / PSEUDO_HALF, tensor-op math) — and
     * batch norm + ReLU training forward and backward ({@code batchNormTrainAct} / {@code batchNormActBackward}; 16-bit:
     * the sevc_bn_act_*_bf16/_f16 kernels), bf16 and fp16 against fp32 (KernelMode AUTO: the fp32 temporal
     * backward-weight up to 128 channels is sevnet's kernel, the rest cuDNN) with TF32 off (IEEE fp32) and on. The
     * first call of each (the algorithm search) is not timed.
     */
    private static void halfTraining(CudaBackend gpu, int batch, int reps) {
        System.out.println();
        System.out.println("mixed-precision training ops (CudaBackend, KernelMode AUTO): 16-bit vs fp32; ms per call");
        System.out.println("| op | input [N,C,T,H,W] | fp32 ms | fp32 TF32 ms | bf16 ms | fp16 ms | bf16/fp32 | "
                + "fp16/fp32 | bf16/TF32 |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        boolean tf32Before = gpu.allowTf32();
        Random r = new Random(5);
        DType[] types = {DType.FLOAT32, DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16};
        try {
            for (int[] blk : G8_BLOCKS) {
                int c = blk[0], hw = blk[1], stride = blk[2], t = 16, cg = 8;
                Shape xs = Shape.of(batch, c, t, hw, hw);
                ConvSpec pointwise = ConvSpec.of(1);
                ConvSpec grouped = ConvSpec.builder().kernel(1, 3, 3).stride(1, stride, stride).padding(0, 1, 1)
                        .groups(c / cg).build();
                ConvSpec temporal = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
                Shape gys = grouped.outputShape(xs, c);
                String gname = "grouped 1x3x3" + (stride == 2 ? " s2" : "");
                halfConvRows(gpu, r, reps, types, gname, xs, grouped, Shape.of(c, cg, 1, 3, 3));
                if (stride == 1) {
                    halfConvRows(gpu, r, reps, types, "1x1x1", xs, pointwise, Shape.of(c, c, 1, 1, 1));
                    halfBnRows(gpu, r, reps, types, xs);
                } else {
                    // the downsample block's temporal conv runs on the strided plane
                    halfConvRows(gpu, r, reps, types, "temporal 3x1x1", gys, temporal, Shape.of(c, c, 3, 1, 1));
                }
                if (stride == 1) {
                    halfConvRows(gpu, r, reps, types, "temporal 3x1x1", xs, temporal, Shape.of(c, c, 3, 1, 1));
                }
            }
        } finally {
            gpu.setAllowTf32(tf32Before);
        }
    }

    /**
     * Section {@code halfroutes}: the three routes of a 16-bit grouped 1x3x3 conv ({@link CudaBackend.HalfGroupedRoute}:
     * fp32 on widened copies, cuDNN over 16-bit NCDHW, cuDNN over channels-last copies) against fp32 with TF32, forward
     * / backward-data / backward-weight at every G8 block's grouped conv (KernelMode AUTO), and the forward and
     * backward-data on sevnet's grouped kernels in 16-bit storage (KernelMode CUSTOM); ms per call, bf16 and fp16.
     * A route cuDNN refuses shows the route it fell back to (see the refused list printed at the end).
     */
    private static void halfGroupedRoutes(CudaBackend gpu, int batch, int reps) {
        System.out.println();
        System.out.println("16-bit grouped 1x3x3 conv routes (CudaBackend.HalfGroupedRoute), ms per call, KernelMode AUTO");
        System.out.println("| pass | input [N,C,T,H,W] | stride | fp32 TF32 | bf16 widen | bf16 cudnn | bf16 channels-last | "
                + "bf16 sevnet kernel (CUSTOM; fwd, bwd-data) | bf16 measured (default): its choice | fp16 widen | "
                + "fp16 cudnn | fp16 channels-last | fp16 sevnet kernel (CUSTOM; fwd, bwd-data) | fp16 measured: its choice |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        boolean tf32Before = gpu.allowTf32();
        CudaBackend.HalfGroupedRoute routeBefore = gpu.halfGroupedRoute();
        Random r = new Random(8);
        CudaBackend.HalfGroupedRoute[] routes = {CudaBackend.HalfGroupedRoute.WIDEN, CudaBackend.HalfGroupedRoute.CUDNN,
            CudaBackend.HalfGroupedRoute.CHANNELS_LAST};
        try {
            gpu.setAllowTf32(true);
            for (int[] blk : G8_BLOCKS) {
                int c = blk[0], hw = blk[1], stride = blk[2], cg = 8;
                Shape xs = Shape.of(batch, c, 16, hw, hw);
                Shape ws = Shape.of(c, cg, 1, 3, 3);
                ConvSpec spec = ConvSpec.builder().kernel(1, 3, 3).stride(1, stride, stride).padding(0, 1, 1)
                        .groups(c / cg).build();
                Shape ys = spec.outputShape(xs, c);
                DType[] types = {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16};
                Tensor[] x = new Tensor[3];
                Tensor[] w = new Tensor[3];
                Tensor[] dy = new Tensor[3];
                try {
                    for (int i = 0; i < 3; i++) {
                        x[i] = randOf(gpu, r, xs, types[i]);
                        w[i] = randOf(gpu, r, ws, types[i]);
                        dy[i] = randOf(gpu, r, ys, types[i]);
                    }
                    for (String pass : new String[] {"forward", "bwd-data", "bwd-weight"}) {
                        StringBuilder row = new StringBuilder("| " + pass + " | " + xs + " | " + stride + " | ");
                        for (int i = 0; i < 3; i++) {
                            int t = i;
                            Runnable body = switch (pass) {
                                case "forward" -> () -> gpu.conv3d(x[t], w[t], null, spec, false).close();
                                case "bwd-data" -> () -> gpu.conv3dBackwardData(dy[t], w[t], spec, xs).close();
                                default -> () -> gpu.conv3dBackwardWeight(x[t], dy[t], spec, ws).close();
                            };
                            if (i == 0) {
                                row.append(String.format(Locale.ROOT, "%.3f | ", gpu.cudaDevice().timeMillis(reps, body)));
                                continue;
                            }
                            for (CudaBackend.HalfGroupedRoute route : routes) {
                                gpu.setHalfGroupedRoute(route);
                                row.append(String.format(Locale.ROOT, "%.3f | ", gpu.cudaDevice().timeMillis(reps, body)));
                            }
                            if (!pass.equals("bwd-weight")) {
                                gpu.setKernelMode(CudaBackend.KernelMode.CUSTOM);
                                row.append(String.format(Locale.ROOT, "%.3f | ", gpu.cudaDevice().timeMillis(reps, body)));
                                gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
                            } else {
                                row.append("- | ");
                            }
                            // the default: the route measured at the problem's first call (the warm-up run measures)
                            gpu.setHalfGroupedRoute(CudaBackend.HalfGroupedRoute.MEASURE);
                            double measured = gpu.cudaDevice().timeMillis(reps, body);
                            String dir = switch (pass) {
                                case "forward" -> "fwd";
                                case "bwd-data" -> "bwd-data";
                                default -> "bwd-filter";
                            };
                            String key = ConvAlgorithmCache.key(dir, spec.nativeParams(xs, c), gpu.allowTf32(), types[i]);
                            row.append(String.format(Locale.ROOT, "%.3f: %s | ", measured,
                                    gpu.measuredRoutes().getOrDefault(key, "?")));
                        }
                        System.out.println(row.toString().trim());
                    }
                } finally {
                    closeAll(x);
                    closeAll(w);
                    closeAll(dy);
                }
            }
            System.out.println("problems cuDNN refused (they ran another route): " + gpu.refusedSixteenBitConvolutions());
        } finally {
            gpu.setAllowTf32(tf32Before);
            gpu.setHalfGroupedRoute(routeBefore);
        }
    }

    /** One tensor of dt on the device: fp32 Gaussian, or the same rounded to 16 bits. */
    private static Tensor randOf(CudaBackend gpu, Random r, Shape s, DType dt) {
        return dt == DType.FLOAT32 ? rand(gpu, r, s) : rand16(gpu, r, s, dt);
    }

    /** ms of body for each column of types (the second fp32 column with TF32 on). */
    private static double[] halfColumns(CudaBackend gpu, int reps, DType[] types,
            java.util.function.IntFunction<Runnable> bodyForColumn) {
        double[] ms = new double[types.length];
        for (int i = 0; i < types.length; i++) {
            gpu.setAllowTf32(i == 1);
            ms[i] = gpu.cudaDevice().timeMillis(reps, bodyForColumn.apply(i));
        }
        gpu.setAllowTf32(false);
        return ms;
    }

    private static void halfConvRows(CudaBackend gpu, Random r, int reps, DType[] types, String name, Shape xs,
            ConvSpec spec, Shape ws) {
        Shape ys = spec.outputShape(xs, ws.get(0));
        Tensor[] x = new Tensor[types.length];
        Tensor[] w = new Tensor[types.length];
        Tensor[] dy = new Tensor[types.length];
        try {
            for (int i = 0; i < types.length; i++) {
                x[i] = randOf(gpu, r, xs, types[i]);
                w[i] = randOf(gpu, r, ws, types[i]);
                dy[i] = randOf(gpu, r, ys, types[i]);
            }
            double[] data = halfColumns(gpu, reps, types,
                    i -> () -> gpu.conv3dBackwardData(dy[i], w[i], spec, xs).close());
            halfRow(name + " conv bwd-data", xs, data);
            double[] weight = halfColumns(gpu, reps, types,
                    i -> () -> gpu.conv3dBackwardWeight(x[i], dy[i], spec, ws).close());
            halfRow(name + " conv bwd-weight", xs, weight);
        } finally {
            closeAll(x);
            closeAll(w);
            closeAll(dy);
        }
    }

    private static void halfBnRows(CudaBackend gpu, Random r, int reps, DType[] types, Shape xs) {
        long c = xs.get(1);
        Shape cs = Shape.of(c);
        Tensor[] x = new Tensor[types.length];
        Tensor[] dy = new Tensor[types.length];
        Tensor[] y = new Tensor[types.length];
        try (Tensor g = rand(gpu, r, cs); Tensor b = rand(gpu, r, cs); Tensor rm = rand(gpu, r, cs);
                Tensor rv = gpu.toDevice(Tensor.full(cs, 1f)); Tensor mean = gpu.toDevice(Tensor.zeros(cs));
                Tensor inv = gpu.toDevice(Tensor.full(cs, 1f))) {
            for (int i = 0; i < types.length; i++) {
                x[i] = randOf(gpu, r, xs, types[i]);
                dy[i] = randOf(gpu, r, xs, types[i]);
                y[i] = gpu.relu(x[i]);
            }
            double[] fwd = halfColumns(gpu, reps, types, i -> () -> {
                var res = gpu.batchNormTrainAct(x[i], null, g, b, rm, rv, 1e-5, 0.1, true);
                closeAll(res.y(), res.saveMean(), res.saveInvstd());
            });
            halfRow("BN+ReLU train fwd", xs, fwd);
            double[] bwd = halfColumns(gpu, reps, types,
                    i -> () -> closeAll(gpu.batchNormActBackward(x[i], y[i], dy[i], g, mean, inv, true, false)));
            halfRow("BN+ReLU bwd", xs, bwd);
        } finally {
            closeAll(x);
            closeAll(dy);
            closeAll(y);
        }
    }

    /**
     * The ops of a SEVNet-G8 block through the backend, on contiguous and on channels-last tensors (TF32 allowed, as
     * training and inference run): the three convs (cuDNN NCDHW or the measured route vs cuDNN NDHWC), BN + ReLU
     * training forward and backward (sevnet's NCDHW vs NDHWC kernels), and the reorder itself. What the channels-last
     * path buys per op, and what its one reorder of the clip costs.
     */
    private static void channelsLastOps(CudaBackend gpu, int batch, int reps) {
        System.out.println();
        System.out.println("channels-last vs contiguous through CudaBackend (kernel mode auto, TF32 on): --memory-format");
        System.out.println("| op | [N,C,T,H,W] | dtype | contiguous ms | channels-last ms | channels-last/contiguous "
                + "| channels-last route kept |");
        System.out.println("|---|---|---|---|---|---|---|");
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        gpu.setAllowTf32(true);
        Random r = new Random(7);
        try {
            for (int[] blk : G8_BLOCKS) {
                if (blk[2] != 1) {
                    continue;
                }
                int c = blk[0], hw = blk[1], t = 16;
                Shape xs = Shape.of(batch, c, t, hw, hw);
                Shape cs = Shape.of(c);
                ConvSpec pointwise = ConvSpec.of(1);
                ConvSpec grouped = ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(c / 8).build();
                ConvSpec temporal = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
                for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
                    try (Tensor x = randOf(gpu, r, xs, dt); Tensor dy = randOf(gpu, r, xs, dt);
                            Tensor xc = gpu.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST);
                            Tensor dyc = gpu.toMemoryFormat(dy, MemoryFormat.CHANNELS_LAST);
                            Tensor w1 = randOf(gpu, r, Shape.of(c, c, 1, 1, 1), dt);
                            Tensor wg = randOf(gpu, r, Shape.of(c, 8, 1, 3, 3), dt);
                            Tensor wt = randOf(gpu, r, Shape.of(c, c, 3, 1, 1), dt);
                            Tensor wgc = gpu.toMemoryFormat(wg, MemoryFormat.CHANNELS_LAST);
                            Tensor wtc = gpu.toMemoryFormat(wt, MemoryFormat.CHANNELS_LAST);
                            Tensor g = rand(gpu, r, cs); Tensor b = rand(gpu, r, cs); Tensor rm = rand(gpu, r, cs);
                            Tensor rv = gpu.toDevice(Tensor.full(cs, 1f)); Tensor mean = gpu.toDevice(Tensor.zeros(cs));
                            Tensor inv = gpu.toDevice(Tensor.full(cs, 1f)); Tensor y = gpu.relu(x);
                            Tensor yc = gpu.relu(xc)) {
                        clRow(gpu, reps, "1x1x1 conv", xs, dt, () -> gpu.conv3d(x, w1, null, pointwise, false),
                                () -> gpu.conv3d(xc, w1, null, pointwise, false));
                        clRow(gpu, reps, "grouped 1x3x3 conv", xs, dt, () -> gpu.conv3d(x, wg, null, grouped, false),
                                () -> gpu.conv3d(xc, wgc, null, grouped, false));
                        clRow(gpu, reps, "3x1x1 conv", xs, dt, () -> gpu.conv3d(x, wt, null, temporal, false),
                                () -> gpu.conv3d(xc, wtc, null, temporal, false));
                        clRow(gpu, reps, "grouped 1x3x3 bwd-data", xs, dt,
                                () -> gpu.conv3dBackwardData(dy, wg, grouped, xs),
                                () -> gpu.conv3dBackwardData(dyc, wgc, grouped, xs));
                        clRow(gpu, reps, "grouped 1x3x3 bwd-filter", xs, dt,
                                () -> gpu.conv3dBackwardWeight(x, dy, grouped, wg.shape()),
                                () -> gpu.conv3dBackwardWeight(xc, dyc, grouped, wg.shape()));
                        clRow(gpu, reps, "BN+ReLU train fwd", xs, dt, () -> {
                            var res = gpu.batchNormTrainAct(x, null, g, b, rm, rv, 1e-5, 0.1, true);
                            closeAll(res.saveMean(), res.saveInvstd());
                            return res.y();
                        }, () -> {
                            var res = gpu.batchNormTrainAct(xc, null, g, b, rm, rv, 1e-5, 0.1, true);
                            closeAll(res.saveMean(), res.saveInvstd());
                            return res.y();
                        });
                        clRow(gpu, reps, "BN+ReLU bwd", xs, dt, () -> {
                            Tensor[] d = gpu.batchNormActBackward(x, y, dy, g, mean, inv, true, false);
                            closeAll(d[1], d[2]);
                            return d[0];
                        }, () -> {
                            Tensor[] d = gpu.batchNormActBackward(xc, yc, dyc, g, mean, inv, true, false);
                            closeAll(d[1], d[2]);
                            return d[0];
                        });
                        clRow(gpu, reps, "reorder (one per clip)", xs, dt, () -> gpu.toDevice(x),
                                () -> gpu.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
                    }
                }
            }
        } finally {
            gpu.setAllowTf32(false);
        }
    }

    /**
     * Section {@code lt}: a folded model's channels-last 1x1x1 conv with its epilogue (bias + ReLU, and bias + residual
     * + ReLU) by each route CudaBackend measures — cuDNN then sevnet's NDHWC epilogue kernel, one cuBLAS GEMM then the
     * same kernel, and one cuBLASLt matmul with the epilogue inside ({@code CublasLt}) — forced one at a time, then
     * measured (the route AUTO keeps). fp32 with TF32 and bf16; every G8 stage width at batch N, 16 frames.
     */
    private static void pointwiseEpilogueRoutes(CudaBackend gpu, int batch, int reps) {
        System.out.println();
        System.out.println("channels-last 1x1x1 conv + epilogue by route (CudaBackend.forceRoute; auto = measured), ms");
        System.out.println("| epilogue | [N,C,T,H,W] | dtype | cudnn | cublas | cublaslt | auto | auto chose | best TFLOP/s |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        gpu.setAllowTf32(true);
        Random r = new Random(11);
        String[] routes = {"cudnn", "cublas", "cublaslt", null};
        try {
            for (int[] blk : G8_BLOCKS) {
                if (blk[2] != 1) {
                    continue;
                }
                int c = blk[0], hw = blk[1], t = 16;
                Shape xs = Shape.of(batch, c, t, hw, hw);
                double flops = 2.0 * xs.size() * c;
                for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
                    try (Tensor x0 = randOf(gpu, r, xs, dt); Tensor x = gpu.toMemoryFormat(x0, MemoryFormat.CHANNELS_LAST);
                            Tensor res0 = randOf(gpu, r, xs, dt);
                            Tensor res = gpu.toMemoryFormat(res0, MemoryFormat.CHANNELS_LAST);
                            Tensor w0 = randOf(gpu, r, Shape.of(c, c, 1, 1, 1), dt);
                            Tensor w = gpu.toMemoryFormat(w0, MemoryFormat.CHANNELS_LAST);
                            Tensor b = rand(gpu, r, Shape.of(c))) {
                        for (boolean residual : new boolean[] {false, true}) {
                            // what AUTO kept: the routes it recorded while measuring this row (none: measured before)
                            java.util.Map<String, String> before = gpu.algorithmCache().routes();
                            Supplier<Tensor> op = residual
                                    ? () -> gpu.conv3dResidual(x, w, b, ConvSpec.of(1), res, true)
                                    : () -> gpu.conv3d(x, w, b, ConvSpec.of(1), true);
                            double[] ms = timeRoutes(gpu, reps, routes, op);
                            double best = minimum(ms);
                            double tf = flops / (best * 1e-3) / 1e12;
                            System.out.println(String.format(Locale.ROOT,
                                    "| bias%s + ReLU | %s | %s | %.3f | %.3f | %.3f | %.3f | %s | %.1f |",
                                    residual ? " + residual" : "", xs, dt, ms[0], ms[1], ms[2], ms[3],
                                    keptRoutes(gpu, before), tf));
                        }
                    }
                }
            }
        } finally {
            gpu.forceRoute(null);
            gpu.setAllowTf32(false);
        }
    }

    /**
     * Section {@code gcl}: the channels-last grouped 1x3x3 conv (8 channels a group, every G8 block's, stride 1 and 2)
     * forward, backward-data and backward-weight by each route CudaBackend measures — cuDNN's NDHWC conv, the ncdhw route (reorders
     * around the contiguous op's own measured route) and sevnet's kernel (kernels/grouped_conv_ndhwc.cu) — forced one
     * at a time, then measured (auto, and the route it kept); fp32 (TF32 on), bf16, fp16. GB/s: x and y (dy and dx;
     * x and dy) once each at the best route's time.
     */
    private static void groupedChannelsLastRoutes(CudaBackend gpu, int batch, int reps, double peakGBs) {
        System.out.println();
        System.out.println("channels-last grouped 1x3x3 conv by route (CudaBackend.forceRoute; auto = measured), ms");
        System.out.println("| pass | [N,C,T,H,W] stride | dtype | cudnn | ncdhw | sevnet | auto | auto chose | best GB/s "
                + "| % peak |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        gpu.setAllowTf32(true);
        Random r = new Random(13);
        String[] routes = {"cudnn", "ncdhw", "sevnet", null};
        try {
            for (int[] blk : G8_BLOCKS) {
                int c = blk[0], hw = blk[1], st = blk[2];
                Shape xs = Shape.of(batch, c, 16, hw, hw);
                ConvSpec spec = ConvSpec.builder().kernel(1, 3, 3).stride(1, st, st).padding(0, 1, 1).groups(c / 8)
                        .build();
                Shape ys = spec.outputShape(xs, c);
                for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16}) {
                    try (Tensor x0 = randOf(gpu, r, xs, dt); Tensor x = gpu.toMemoryFormat(x0, MemoryFormat.CHANNELS_LAST);
                            Tensor dy0 = randOf(gpu, r, ys, dt);
                            Tensor dy = gpu.toMemoryFormat(dy0, MemoryFormat.CHANNELS_LAST);
                            Tensor w0 = randOf(gpu, r, Shape.of(c, 8, 1, 3, 3), dt);
                            Tensor w = gpu.toMemoryFormat(w0, MemoryFormat.CHANNELS_LAST)) {
                        double bytes = (double) (xs.size() + ys.size()) * dt.byteSize();
                        for (String pass : new String[] {"forward", "bwd-data", "bwd-weight"}) {
                            Supplier<Tensor> op = switch (pass) {
                                case "forward" -> () -> gpu.conv3d(x, w, null, spec, false);
                                case "bwd-data" -> () -> gpu.conv3dBackwardData(dy, w, spec, xs);
                                default -> () -> gpu.conv3dBackwardWeight(x, dy, spec, w.shape());
                            };
                            java.util.Map<String, String> before = gpu.algorithmCache().routes();
                            double[] ms = timeRoutes(gpu, reps, routes, op);
                            double best = minimum(ms);
                            double gbs = bytes / (best * 1e-3) / 1e9;
                            System.out.println(String.format(Locale.ROOT,
                                    "| %s | %s s%d | %s | %.3f | %.3f | %.3f | %.3f | %s | %.0f | %.0f%% |", pass, xs, st,
                                    dt, ms[0], ms[1], ms[2], ms[3], keptRoutes(gpu, before), gbs, 100 * gbs / peakGBs));
                        }
                    }
                }
            }
        } finally {
            gpu.forceRoute(null);
            gpu.setAllowTf32(false);
        }
    }

    /**
     * Section {@code tcl}: the channels-last temporal 3x1x1 conv (every G8 stage's width, 16 frames) by each route
     * CudaBackend measures — cuDNN's NDHWC conv, the ncdhw route, cuBLAS's three tap GEMMs (+ the epilogue kernel),
     * sevnet's CUDA-core kernel (kernels/temporal_conv_ndhwc.cu) and its tensor-core one
     * (kernels/temporal_conv_ndhwc_tc.cu, the epilogue in its store) — forced one at a time, then measured (auto, and
     * the route it kept): the folded model's forward (bias + residual + ReLU), the plain forward of training,
     * backward-data and backward-weight; fp32 (TF32 on), bf16, fp16. GB/s: the input and the output once each (and the residual);
     * TFLOP/s: 2 * 3C multiply-adds per output.
     */
    private static void temporalChannelsLastRoutes(CudaBackend gpu, int batch, int reps, double peakGBs) {
        System.out.println();
        System.out.println("channels-last temporal 3x1x1 conv by route (CudaBackend.forceRoute; auto = measured), ms");
        System.out.println("| pass | [N,C,T,H,W] | dtype | cudnn | ncdhw | cublas | sevnet | sevnet-tc | auto | auto chose "
                + "| best GB/s | % peak | best TFLOP/s |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        gpu.setAllowTf32(true);
        Random r = new Random(17);
        String[] routes = {"cudnn", "ncdhw", "cublas", "sevnet", "sevnet-tc", null};
        ConvSpec spec = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
        try {
            for (int[] blk : G8_BLOCKS) {
                if (blk[2] != 1) {
                    continue;
                }
                int c = blk[0], hw = blk[1];
                Shape xs = Shape.of(batch, c, 16, hw, hw);
                double flops = 2.0 * xs.size() * 3 * c;
                for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16}) {
                    try (Tensor x0 = randOf(gpu, r, xs, dt); Tensor x = gpu.toMemoryFormat(x0, MemoryFormat.CHANNELS_LAST);
                            Tensor res0 = randOf(gpu, r, xs, dt);
                            Tensor res = gpu.toMemoryFormat(res0, MemoryFormat.CHANNELS_LAST);
                            Tensor w0 = randOf(gpu, r, Shape.of(c, c, 3, 1, 1), dt);
                            Tensor w = gpu.toMemoryFormat(w0, MemoryFormat.CHANNELS_LAST);
                            Tensor b = rand(gpu, r, Shape.of(c))) {
                        for (String pass : new String[] {"forward + bias + residual + ReLU", "forward", "bwd-data",
                            "bwd-weight"}) {
                            Supplier<Tensor> op = switch (pass) {
                                case "forward" -> () -> gpu.conv3d(x, w, null, spec, false);
                                case "bwd-data" -> () -> gpu.conv3dBackwardData(x, w, spec, xs);
                                case "bwd-weight" -> () -> gpu.conv3dBackwardWeight(x, res, spec, w.shape());
                                default -> () -> gpu.conv3dResidual(x, w, b, spec, res, true);
                            };
                            double bytes = (double) xs.size() * dt.byteSize() * (pass.contains("residual") ? 3 : 2);
                            java.util.Map<String, String> before = gpu.algorithmCache().routes();
                            double[] ms = timeRoutes(gpu, reps, routes, op);
                            double best = minimum(ms);
                            double gbs = bytes / (best * 1e-3) / 1e9;
                            System.out.println(String.format(Locale.ROOT,
                                    "| %s | %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %.0f | %.0f%% | %.1f |",
                                    pass, xs, dt, ms[0], ms[1], ms[2], ms[3], ms[4], ms[5], keptRoutes(gpu, before), gbs,
                                    100 * gbs / peakGBs, flops / (best * 1e-3) / 1e12));
                        }
                    }
                }
            }
        } finally {
            gpu.forceRoute(null);
            gpu.setAllowTf32(false);
        }
    }

    /**
     * {@code op}'s device time with each route forced in turn ({@code null}: measured, as AUTO runs it); NaN for a route
     * that failed (said on stderr). The caller resets the forced route.
     */
    private static double[] timeRoutes(CudaBackend gpu, int reps, String[] routes, Supplier<Tensor> op) {
        double[] ms = new double[routes.length];
        for (int i = 0; i < routes.length; i++) {
            gpu.forceRoute(routes[i]);
            try {
                ms[i] = gpu.cudaDevice().timeMillis(reps, () -> op.get().close());
            } catch (RuntimeException e) {
                ms[i] = Double.NaN;
                System.err.println("route " + routes[i] + " failed: " + e.getMessage());
            }
        }
        return ms;
    }

    private static double minimum(double[] ms) {
        return java.util.Arrays.stream(ms).filter(v -> !Double.isNaN(v)).min().orElse(Double.NaN);
    }

    /** The routes AUTO recorded since {@code before} (a problem's nested ones too, e.g. the ncdhw route's), or "-". */
    private static String keptRoutes(CudaBackend gpu, java.util.Map<String, String> before) {
        StringBuilder chose = new StringBuilder();
        gpu.algorithmCache().routes().forEach((k, v) -> {
            if (!v.equals(before.get(k))) {
                chose.append(chose.length() == 0 ? "" : ", ").append(v);
            }
        });
        return chose.length() == 0 ? "-" : chose.toString();
    }

    private static void clRow(CudaBackend gpu, int reps, String op, Shape s, DType dt, Supplier<Tensor> contiguous,
            Supplier<Tensor> channelsLast) {
        double a = gpu.cudaDevice().timeMillis(reps, () -> contiguous.get().close());
        java.util.Map<String, String> before = gpu.algorithmCache().routes();
        double b = gpu.cudaDevice().timeMillis(reps, () -> channelsLast.get().close());
        System.out.println(String.format(Locale.ROOT, "| %s | %s | %s | %.3f | %.3f | %.2fx | %s |", op, s, dt, a, b, b / a,
                keptRoutes(gpu, before)));
    }

    /** ms: fp32, fp32 with TF32, bf16, fp16. */
    private static void halfRow(String op, Shape s, double[] ms) {
        System.out.println(String.format(Locale.ROOT, "| %s | %s | %.3f | %.3f | %.3f | %.3f | %.2fx | %.2fx | %.2fx |",
                op, s, ms[0], ms[1], ms[2], ms[3], ms[2] / ms[0], ms[3] / ms[0], ms[2] / ms[1]));
    }

    /** The optimizer step over SEVNet-G8's parameters: one launch for all against one launch per parameter. */
    private static void sgdRow(CudaBackend gpu, int reps) {
        try (dev.sevnet.nn.SevNet net = dev.sevnet.nn.SevNet.create(dev.sevnet.nn.SevNetConfig.parse("sevnet-g8", 400), 1)) {
            net.to(gpu);
            java.util.List<Tensor> w = new java.util.ArrayList<>();
            java.util.List<Tensor> g = new java.util.ArrayList<>();
            java.util.List<Tensor> v = new java.util.ArrayList<>();
            long elements = 0;
            for (var p : net.namedParameters().values()) {
                w.add(p.data());
                g.add(gpu.scale(p.data(), 1e-3f));
                v.add(gpu.scale(p.data(), 0f));
                elements += p.data().size();
            }
            double all = gpu.cudaDevice().timeMillis(reps, () -> gpu.sgdMomentumStepAll(w, g, v, 1e-3f, 0.9f, 1e-4f));
            double each = gpu.cudaDevice().timeMillis(reps, () -> {
                for (int i = 0; i < w.size(); i++) {
                    gpu.sgdMomentumStep(w.get(i), g.get(i), v.get(i), 1e-3f, 0.9f, 1e-4f);
                }
            });
            System.out.println(String.format(Locale.ROOT, "| SGD step, all %d parameters (%d elements) | - | %.3f | %.3f "
                    + "(one launch each) | %.2fx | %.0f | - |", w.size(), elements, all, each, all / each,
                    elements * 16.0 / (all * 1e-3) / 1e9));
            g.forEach(Tensor::close);
            v.forEach(Tensor::close);
        }
    }

    private static void closeAll(dev.sevnet.backend.Backend.ConvBatchNormResult r) {
        closeAll(r.z(), r.y(), r.saveMean(), r.saveInvstd());
    }

    private static void closeAll(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null) {
                t.close();
            }
        }
    }

    /** Times body with the fused kernels (CUSTOM) and with the library sequence (LIBRARY). */
    private static void rowRun(CudaBackend gpu, int reps, String op, Shape s, double bytes, double flops, double peakGBs,
            double peakTf, Runnable body) {
        double[] ms = new double[2];
        CudaBackend.KernelMode[] modes = {CudaBackend.KernelMode.CUSTOM, CudaBackend.KernelMode.LIBRARY};
        for (int i = 0; i < 2; i++) {
            gpu.setKernelMode(modes[i]);
            ms[i] = gpu.cudaDevice().timeMillis(reps, body);
        }
        double gbs = bytes / (ms[0] * 1e-3) / 1e9;
        double pct = flops > 0 ? 100 * flops / (ms[0] * 1e-3) / 1e12 / peakTf : 100 * gbs / peakGBs;
        System.out.println(String.format(Locale.ROOT, "| %s | %s | %.3f | %.3f | %.2fx | %.0f | %.0f%%%s |", op, s, ms[0],
                ms[1], ms[0] / ms[1], gbs, pct, flops > 0 ? String.format(Locale.ROOT, " (%.1f TFLOP/s)",
                        flops / (ms[0] * 1e-3) / 1e12) : ""));
    }

    private static void row(CudaBackend gpu, int reps, String op, Shape s, double bytes, double flops, double peakGBs,
            double peakTf, Supplier<Tensor> body) {
        double[] ms = new double[2];
        CudaBackend.KernelMode[] modes = {CudaBackend.KernelMode.CUSTOM, CudaBackend.KernelMode.LIBRARY};
        for (int i = 0; i < 2; i++) {
            gpu.setKernelMode(modes[i]);
            ms[i] = gpu.cudaDevice().timeMillis(reps, () -> body.get().close());
        }
        double gbs = bytes / (ms[0] * 1e-3) / 1e9;
        double pct = flops > 0 ? 100 * flops / (ms[0] * 1e-3) / 1e12 / peakTf : 100 * gbs / peakGBs;
        System.out.println(String.format(Locale.ROOT, "| %s | %s | %.3f | %.3f | %.2fx | %.0f | %.0f%%%s |", op, s, ms[0],
                ms[1], ms[0] / ms[1], gbs, pct, flops > 0 ? String.format(Locale.ROOT, " (%.1f TFLOP/s)",
                        flops / (ms[0] * 1e-3) / 1e12) : ""));
    }

    private static Tensor rand(CudaBackend gpu, Random r, Shape s) {
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        try (Tensor h = Tensor.of(a, s)) {
            return gpu.toDevice(h);
        }
    }
}
