package dev.sevnet.bench;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.infer.FoldedSevNet;
import dev.sevnet.nn.BatchNorm3d;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Inference time of the eval-mode model (conv, then BN+ReLU as a separate pass) against its
 * {@link FoldedSevNet} form (BN folded into the conv, ReLU in the conv's epilogue), alternating the
 * two in rounds on the same input, as {@code sevnet bench --mode infer} times a forward pass. Not a
 * unit test: run with
 * {@code java -cp target/test-classes:target/classes:<deps> dev.sevnet.bench.FoldBench [model frames size batch rounds iters]}.
 */
public final class FoldBench {
    private FoldBench() {
    }

    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "sevnet-g8";
        int frames = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        int size = args.length > 2 ? Integer.parseInt(args[2]) : 224;
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        int iters = args.length > 5 ? Integer.parseInt(args[5]) : 5;
        Random r = new Random(1);
        float[] data = new float[batch * 3 * frames * size * size];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) r.nextGaussian();
        }
        try (SevNet net = SevNet.create(SevNetConfig.parse(model, 174), 0);
                Tensor x = TensorScope.detach(Tensor.of(data, Shape.of(batch, 3, frames, size, size)))) {
            for (Module m : net.namedModules().values()) {
                if (m instanceof BatchNorm3d bn) {
                    Tensor v = bn.runningVar();
                    for (int c = 0; c < bn.channels(); c++) {
                        v.setFloat(c, 0.5f + r.nextFloat());
                    }
                }
            }
            net.eval();
            try (FoldedSevNet folded = FoldedSevNet.fold(net); GradMode.Guard g = GradMode.noGrad()) {
                double[] best = {Double.MAX_VALUE, Double.MAX_VALUE};
                System.out.printf(Locale.ROOT, "%s batch %d, %dx%dx%d, %d threads; median of %d iterations per round%n",
                        model, batch, frames, size, size, CpuBackend.numThreads(), iters);
                time(net, x, 2);
                time(folded, x, 2);
                for (int round = 1; round <= rounds; round++) {
                    double a = time(net, x, iters);
                    double b = time(folded, x, iters);
                    best[0] = Math.min(best[0], a);
                    best[1] = Math.min(best[1], b);
                    System.out.printf(Locale.ROOT, "round %d: eval-mode %.2f ms (%.2f clips/s), folded %.2f ms (%.2f clips/s), "
                            + "speed-up %.3fx%n", round, a, batch * 1e3 / a, b, batch * 1e3 / b, a / b);
                }
                System.out.printf(Locale.ROOT, "best of each: eval-mode %.2f ms, folded %.2f ms, speed-up %.3fx%n",
                        best[0], best[1], best[0] / best[1]);
            }
        }
    }

    /** Median ms of {@code iters} forward passes. */
    private static double time(Module m, Tensor x, int iters) {
        double[] t = new double[iters];
        for (int i = 0; i < iters; i++) {
            long t0 = System.nanoTime();
            try (TensorScope s = TensorScope.open()) {
                m.forward(Var.of(x));
            }
            t[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(t);
        return t[iters / 2];
    }
}
