package dev.sevnet.bench;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cuda.CudaBackend;
import dev.sevnet.backend.cuda.CudaRuntime;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.Locale;
import java.util.Random;
import java.util.function.Supplier;

/**
 * The sevnet CUDA kernels against the cuDNN calls they replace, at SEVNet-G8's real layer shapes
 * (16x224x224 input, batch 8): the temporal 3x1x1 conv (forward, backward-data, backward-weight)
 * and batch norm (training forward, backward, eval + ReLU). Device time from CUDA events on the
 * backend's stream (outputs come from the caching allocator, so no cudaMalloc is timed); prints a
 * Markdown table with ms, GB/s (the bytes each op must move at least), TFLOP/s and the fraction of
 * the device's peak. Run on a GPU machine:
 *
 * <pre>java -cp CLASSPATH dev.sevnet.bench.CudaKernelsBench [batch] [reps] [peakGBs] [peakTflops]</pre>
 *
 * (defaults 8, 20, and the H200's 4300 GB/s copy rate measured here and 67 fp32 TFLOP/s datasheet).
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
        double peakGBs = args.length > 2 ? Double.parseDouble(args[2]) : 4300;
        double peakTf = args.length > 3 ? Double.parseDouble(args[3]) : 67;
        CudaBackend gpu = CudaBackend.get(0);
        gpu.setAllowTf32(false);
        System.out.println("device: " + gpu.name() + "; cuDNN " + st.cudnnVersion() + "; batch " + batch + ", " + reps
                + " reps per figure");
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
        gpu.setKernelMode(CudaBackend.KernelMode.LIBRARY);
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
