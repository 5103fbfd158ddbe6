package dev.sevnet.bench;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.cpu.Int8Conv;
import dev.sevnet.backend.cpu.Int8Ops;
import dev.sevnet.backend.cpu.QTensor;
import dev.sevnet.data.Clip;
import dev.sevnet.data.ClipSource;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.infer.FoldedSevNet;
import dev.sevnet.infer.QuantizedSevNet;
import dev.sevnet.nn.BatchNorm3d;
import dev.sevnet.nn.Conv3d;
import dev.sevnet.nn.MacCounter;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevBlock;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.nn.Stage;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.Datasets;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * INT8 vs fp32 (both BN-folded), not a unit test. Modes:
 * <ul>
 * <li>{@code acc CHECKPOINT_DIR [calibClips]}: both models over the checkpoint's validation set (int8
 * calibrated on clips of the training distribution, as {@code Predictor} does by default): top-1 of
 * each, their difference, how often their top-1 agree, max and mean |logit difference|.</li>
 * <li>{@code time MODEL FRAMES SIZE BATCH [rounds iters]}: forward time of a random-weight model, the two
 * precisions alternated in rounds on the same input, best per round.</li>
 * <li>{@code layers MODEL FRAMES SIZE BATCH [iters]}: every conv of the model alone (fp32 conv3d with its
 * fused ReLU vs the int8 u8-to-u8 conv on the same shape), summed per conv type, best of
 * {@code iters}; then the whole model, whose remainder is everything but the convs.</li>
 * </ul>
 * Run with {@code java -cp target/test-classes:target/classes:<deps> dev.sevnet.bench.Int8Bench ...}
 * (bench/RESULTS.md has the exact commands).
 */
public final class Int8Bench {
    private Int8Bench() {
    }

    public static void main(String[] args) {
        if (args.length > 1 && args[0].equals("acc")) {
            accuracy(Path.of(args[1]), args.length > 2 ? Integer.parseInt(args[2]) : 8);
        } else if (args.length > 4 && args[0].equals("layers")) {
            layers(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                    args.length > 5 ? Integer.parseInt(args[5]) : 5);
        } else if (args.length > 4 && args[0].equals("time")) {
            time(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                    args.length > 5 ? Integer.parseInt(args[5]) : 3, args.length > 6 ? Integer.parseInt(args[6]) : 3);
        } else {
            System.err.println("usage: Int8Bench acc CHECKPOINT [clips] | time MODEL FRAMES SIZE BATCH [rounds iters] "
                    + "| layers MODEL FRAMES SIZE BATCH [iters]");
            System.exit(2);
        }
    }

    /** What {@link #compare} measured. */
    public record Agreement(int clips, double top1Fp32, double top1Int8, double agree, double maxLogitErr,
            double meanLogitErr, double logitScale) {
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
                    Agreement a = compare(folded, q, Datasets.val(config), 16);
                    System.out.printf(Locale.ROOT,
                            "%s %dx%d^2, %d val clips, %d calibration clips: fp32 top-1 %.2f%%, int8 top-1 %.2f%%, "
                                    + "difference %+.2f points; top-1 agree on %.2f%% of clips; |logit int8 - fp32| "
                                    + "max %.4f, mean %.4f (fp32 logits' mean |value| %.3f)%n",
                            config.model(), config.frames(), config.size(), a.clips(), calibClips, 100 * a.top1Fp32(),
                            100 * a.top1Int8(), 100 * (a.top1Int8() - a.top1Fp32()), 100 * a.agree(), a.maxLogitErr(),
                            a.meanLogitErr(), a.logitScale());
                }
            }
        }
    }

    /** Both models over every clip of {@code source} (its deterministic test view), in batches. */
    public static Agreement compare(Module fp32, Module int8, ClipSource source, int batch) {
        int n = source.size();
        int k = source.numClasses();
        int right32 = 0;
        int right8 = 0;
        int agree = 0;
        double maxErr = 0;
        double sumErr = 0;
        double sumAbs = 0;
        try (GradMode.Guard g = GradMode.noGrad()) {
            for (int i0 = 0; i0 < n; i0 += batch) {
                int b = Math.min(batch, n - i0);
                try (TensorScope scope = TensorScope.open()) {
                    Clip first = source.load(i0, new Random(i0), false);
                    int per = first.data().length;
                    float[] data = new float[b * per];
                    int[] labels = new int[b];
                    for (int j = 0; j < b; j++) {
                        Clip c = j == 0 ? first : source.load(i0 + j, new Random(i0 + j), false);
                        System.arraycopy(c.data(), 0, data, j * per, per);
                        labels[j] = c.label();
                    }
                    Tensor x = Tensor.of(data, b, 3, first.frames(), first.height(), first.width());
                    float[] l32 = fp32.forward(Var.of(x)).value().toFloatArray();
                    float[] l8 = int8.forward(Var.of(x)).value().toFloatArray();
                    for (int j = 0; j < b; j++) {
                        int a32 = argmax(l32, j, k);
                        int a8 = argmax(l8, j, k);
                        right32 += a32 == labels[j] ? 1 : 0;
                        right8 += a8 == labels[j] ? 1 : 0;
                        agree += a32 == a8 ? 1 : 0;
                        for (int c = 0; c < k; c++) {
                            double e = Math.abs(l8[j * k + c] - l32[j * k + c]);
                            maxErr = Math.max(maxErr, e);
                            sumErr += e;
                            sumAbs += Math.abs(l32[j * k + c]);
                        }
                    }
                }
            }
        }
        return new Agreement(n, (double) right32 / n, (double) right8 / n, (double) agree / n, maxErr,
                sumErr / ((double) n * k), sumAbs / ((double) n * k));
    }

    static int argmax(float[] a, int row, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (a[row * k + j] > a[row * k + best]) {
                best = j;
            }
        }
        return best;
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
                System.out.printf(Locale.ROOT, "%s %dx%d^2 batch %d: best fp32 %.1f ms, int8 %.1f ms, speed-up %.2fx "
                        + "(load average %s)%n", model, frames, size, batch, a, b, a / b, load());
            }
        }
    }

    /** One conv of the model: its kind, spec, weights and input shape. */
    record Layer(String kind, Conv3d conv, Shape input) {
    }

    /** Every conv of a SEVNet in forward order, with its input shape and kind. */
    static List<Layer> convLayers(SevNet net, Shape x) {
        Map<String, Module> mods = net.namedModules();
        List<Layer> out = new ArrayList<>();
        Conv3d cs = (Conv3d) mods.get("stem.conv_s");
        out.add(new Layer("stem 1x7x7", cs, x));
        Shape h = cs.outputShape(x, new MacCounter());
        Conv3d ct = (Conv3d) mods.get("stem.conv_t");
        out.add(new Layer("temporal 3x1x1", ct, h));
        h = ct.outputShape(h, new MacCounter());
        List<Stage> stages = net.stages().items();
        for (int s = 0; s < stages.size(); s++) {
            List<SevBlock> blocks = stages.get(s).blocks().items();
            for (int b = 0; b < blocks.size(); b++) {
                String p = "stages." + s + ".blocks." + b + ".";
                Conv3d c1 = (Conv3d) mods.get(p + "conv1");
                Conv3d c2 = (Conv3d) mods.get(p + "conv2");
                Conv3d c3 = (Conv3d) mods.get(p + "conv3");
                Shape h1 = c1.outputShape(h, new MacCounter());
                Shape h2 = c2.outputShape(h1, new MacCounter());
                out.add(new Layer("pointwise 1x1x1", c1, h));
                out.add(new Layer(c2.spec().sH() > 1 ? "grouped 1x3x3 s2" : "grouped 1x3x3", c2, h1));
                out.add(new Layer("temporal 3x1x1", c3, h2));
                Module sc = mods.get(p + "shortcut.conv");
                if (sc != null) {
                    out.add(new Layer("pointwise 1x1x1", (Conv3d) sc, h2.with(1, h.get(1))));
                }
                h = blocks.get(b).outputShape(h, new MacCounter());
            }
        }
        return out;
    }

    static void layers(String model, int frames, int size, int batch, int iters) {
        Shape in = Shape.of(batch, 3, frames, size, size);
        Map<String, double[]> perKind = new LinkedHashMap<>();
        try (SevNet net = SevNet.create(SevNetConfig.parse(model, 174), 42)) {
            for (Layer l : convLayers(net, in)) {
                try (TensorScope scope = TensorScope.open()) {
                    boolean clip = l.input().get(1) == 3;
                    Tensor x = randomTensor(l.input(), 3, !clip);
                    Tensor w = l.conv().weight().data();
                    Tensor bias = randomTensor(Shape.of(l.conv().outChannels()), 4, false);
                    Int8Conv packed = Int8Conv.pack(w, l.conv().spec());
                    QTensor xq = Int8Ops.quantize(x, 0.02f, clip ? 128 : 0);
                    QTensor y = QTensor.empty(packed.outputShape(l.input()), 0.05f, 0);
                    double t32 = Double.MAX_VALUE;
                    double t8 = Double.MAX_VALUE;
                    for (int it = 0; it < iters; it++) {
                        long t0 = System.nanoTime();
                        Backends.cpu().conv3d(x, w, bias, l.conv().spec(), true).close();
                        long t1 = System.nanoTime();
                        packed.forward(xq, bias, null, y, 0);
                        long t2 = System.nanoTime();
                        t32 = Math.min(t32, (t1 - t0) / 1e6);
                        t8 = Math.min(t8, (t2 - t1) / 1e6);
                    }
                    double[] acc = perKind.computeIfAbsent(l.kind(), k -> new double[3]);
                    acc[0] += t32;
                    acc[1] += t8;
                    acc[2] += (double) packed.outputShape(l.input()).size() * w.size() / w.dim(0);
                }
            }
            double s32 = 0;
            double s8 = 0;
            System.out.printf(Locale.ROOT, "%s %dx%d^2 batch %d, best of %d, ms:%n", model, frames, size, batch, iters);
            for (Map.Entry<String, double[]> e : perKind.entrySet()) {
                double[] a = e.getValue();
                System.out.printf(Locale.ROOT, "  %-18s fp32 %7.1f  int8 %7.1f  (%.2fx; %.2f GMAC)%n", e.getKey(), a[0],
                        a[1], a[0] / a[1], a[2] / 1e9);
                s32 += a[0];
                s8 += a[1];
            }
            System.out.printf(Locale.ROOT, "  %-18s fp32 %7.1f  int8 %7.1f  (%.2fx)%n", "all convs", s32, s8, s32 / s8);
            net.eval();
            try (Tensor x = TensorScope.detach(randomTensor(in, 1, false));
                    FoldedSevNet folded = FoldedSevNet.fold(net);
                    QuantizedSevNet q = QuantizedSevNet.quantize(folded, List.of(x))) {
                double m32 = Double.MAX_VALUE;
                double m8 = Double.MAX_VALUE;
                for (int it = 0; it < iters; it++) {
                    m32 = Math.min(m32, run(folded, x));
                    m8 = Math.min(m8, run(q, x));
                }
                System.out.printf(Locale.ROOT, "  %-18s fp32 %7.1f  int8 %7.1f  (%.2fx)%n", "whole model", m32, m8,
                        m32 / m8);
                System.out.printf(Locale.ROOT, "  %-18s fp32 %7.1f  int8 %7.1f%n", "rest (not convs)", m32 - s32,
                        m8 - s8);
                System.out.println("  load average " + load());
            }
        }
    }

    /** The 1-minute system load average (the box is shared: timings move with it). */
    static String load() {
        double l = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return l < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", l);
    }

    static Tensor randomTensor(Shape s, long seed, boolean nonNegative) {
        Random r = new Random(seed);
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            double g = r.nextGaussian();
            a[i] = (float) (nonNegative ? Math.max(0, g) : g);
        }
        return Tensor.of(a, s);
    }

    private static double run(Module m, Tensor x) {
        long t0 = System.nanoTime();
        try (GradMode.Guard g = GradMode.noGrad(); TensorScope scope = TensorScope.open()) {
            m.forward(Var.of(x)).value().toFloatArray();
        }
        return (System.nanoTime() - t0) / 1e6;
    }
}
