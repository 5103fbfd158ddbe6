package dev.sevnet.bench;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.data.Clip;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.infer.FoldedSevNet;
import dev.sevnet.infer.QuantizedSevNet;
import dev.sevnet.nn.BatchNorm3d;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.Datasets;
import dev.sevnet.train.Evaluator;
import dev.sevnet.train.Metrics;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * INT8 vs fp32 (both BN-folded), not a unit test. Two modes:
 * <ul>
 * <li>{@code acc CHECKPOINT_DIR [calibClips]}: top-1 of both on the checkpoint's synthetic validation set
 * (int8 calibrated on clips of the training distribution, as {@code Predictor} does by default).</li>
 * <li>{@code time MODEL FRAMES SIZE BATCH [rounds iters]}: forward time of a random-weight model, the two
 * precisions alternated in rounds on the same input, best per round.</li>
 * </ul>
 * Run with {@code java -cp target/test-classes:target/classes:<deps> dev.sevnet.bench.Int8Bench ...}.
 */
public final class Int8Bench {
    private Int8Bench() {
    }

    public static void main(String[] args) {
        if (args.length > 1 && args[0].equals("acc")) {
            accuracy(Path.of(args[1]), args.length > 2 ? Integer.parseInt(args[2]) : 8);
        } else if (args.length > 4 && args[0].equals("time")) {
            time(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                    args.length > 5 ? Integer.parseInt(args[5]) : 3, args.length > 6 ? Integer.parseInt(args[6]) : 3);
        } else {
            System.err.println("usage: Int8Bench acc CHECKPOINT [clips] | time MODEL FRAMES SIZE BATCH [rounds iters]");
            System.exit(2);
        }
    }

    static void accuracy(Path ck, int calibClips) {
        Checkpoint.State st = Checkpoint.readState(ck);
        TrainConfig config = st.config();
        try (SevNet net = Trainer.createModel(config)) {
            Map<String, Tensor> w = Checkpoint.readModel(ck);
            try {
                net.loadStateDict(w, true);
            } finally {
                w.values().forEach(Tensor::close);
            }
            net.eval();
            SyntheticMotionDataset ds = SyntheticMotionDataset.builder().size(calibClips).seed(config.seed())
                    .frames(config.frames()).resolution(config.size()).build();
            List<Tensor> clips = new ArrayList<>();
            try (TensorScope scope = TensorScope.open();
                    FoldedSevNet folded = FoldedSevNet.fold(net)) {
                for (int i = 0; i < calibClips; i++) {
                    Clip c = ds.load(i, new Random(i), false);
                    clips.add(Tensor.of(c.data(), 1, 3, c.frames(), c.height(), c.width()));
                }
                try (QuantizedSevNet q = QuantizedSevNet.quantize(folded, clips)) {
                    Metrics.Result f = Evaluator.evaluate(folded, Datasets.val(config), false, 16, 2, 0, null, null);
                    Metrics.Result r = Evaluator.evaluate(q, Datasets.val(config), false, 16, 2, 0, null, null);
                    System.out.printf(Locale.ROOT,
                            "%s %dx%d^2, %d val clips: fp32 top-1 %.2f%% (loss %.4f), int8 top-1 %.2f%% (loss %.4f), "
                                    + "difference %+.2f points; %d calibration clips%n",
                            config.model(), config.frames(), config.size(), f.samples(), 100 * f.top1(), f.loss(),
                            100 * r.top1(), r.loss(), 100 * (r.top1() - f.top1()), calibClips);
                }
            }
        }
    }

    static void time(String model, int frames, int size, int batch, int rounds, int iters) {
        Random r = new Random(1);
        Shape in = Shape.of(batch, 3, frames, size, size);
        float[] data = new float[Math.toIntExact(in.size())];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) r.nextGaussian();
        }
        try (SevNet net = SevNet.create(SevNetConfig.parse(model, 174), 42); Tensor x = TensorScope.detach(Tensor.of(data, in))) {
            Random g = new Random(2);
            for (Module m : net.namedModules().values()) {
                if (m instanceof BatchNorm3d bn) {
                    float[] v = new float[bn.channels()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = 0.5f + g.nextFloat();
                    }
                    bn.runningVar().floatBuffer().put(0, v);
                }
            }
            net.eval();
            try (FoldedSevNet folded = FoldedSevNet.fold(net);
                    QuantizedSevNet q = QuantizedSevNet.quantize(folded, List.of(x))) {
                double[] best32 = new double[rounds];
                double[] best8 = new double[rounds];
                run(folded, x);
                run(q, x);
                for (int round = 0; round < rounds; round++) {
                    best32[round] = Double.MAX_VALUE;
                    best8[round] = Double.MAX_VALUE;
                    for (int it = 0; it < iters; it++) {
                        best32[round] = Math.min(best32[round], run(folded, x));
                        best8[round] = Math.min(best8[round], run(q, x));
                    }
                    System.out.printf(Locale.ROOT, "round %d: fp32 %.1f ms, int8 %.1f ms, speed-up %.2fx%n", round,
                            best32[round], best8[round], best32[round] / best8[round]);
                }
                double a = Arrays.stream(best32).min().orElse(0);
                double b = Arrays.stream(best8).min().orElse(0);
                System.out.printf(Locale.ROOT, "%s %dx%d^2 batch %d: best fp32 %.1f ms, int8 %.1f ms, speed-up %.2fx%n",
                        model, frames, size, batch, a, b, a / b);
            }
        }
    }

    private static double run(Module m, Tensor x) {
        long t0 = System.nanoTime();
        try (GradMode.Guard g = GradMode.noGrad(); TensorScope scope = TensorScope.open()) {
            m.forward(Var.of(x)).value().toFloatArray();
        }
        return (System.nanoTime() - t0) / 1e6;
    }
}
